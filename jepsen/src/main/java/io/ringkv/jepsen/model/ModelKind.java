package io.ringkv.jepsen.model;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;
import io.ringkv.jepsen.history.Symbol;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The models a history can be checked against, by their command-line names. */
public enum ModelKind {
  REGISTER("register"),
  CAS_REGISTER("cas-register"),
  MULTI_REGISTER("multi-register"),
  MUTEX("mutex"),
  SET("set");

  private static final Set<String> FREE_NAMES = Set.of("unlocked", "free", "released");
  private static final Set<String> HELD_NAMES = Set.of("locked", "held", "acquired");

  private final String cliName;

  ModelKind(String cliName) {
    this.cliName = cliName;
  }

  /** The name used on the command line and in {@code expected.tsv}, e.g. {@code cas-register}. */
  public String cliName() {
    return cliName;
  }

  /** The kind named {@code name}. */
  public static ModelKind fromName(String name) {
    for (ModelKind kind : values()) {
      if (kind.cliName.equals(name)) {
        return kind;
      }
    }
    throw new IllegalArgumentException(
        "unknown model '" + name + "'; known: register, cas-register, multi-register, mutex, set");
  }

  /**
   * The model's initial state from an EDN value: any value for the registers (nil when absent), a
   * map for multi-register (nil for empty), nil/{@code unlocked}/{@code free} or {@code
   * locked}/{@code held} for the mutex, a collection (or nil for empty) for the set.
   *
   * @throws IllegalArgumentException when {@code init} does not fit the model
   */
  public Model initial(Object init, boolean strictNilReads) {
    return switch (this) {
      case REGISTER -> strict(RegisterModel.register(init), strictNilReads);
      case CAS_REGISTER -> strict(RegisterModel.casRegister(init), strictNilReads);
      case MULTI_REGISTER -> new MultiRegisterModel(multiRegisterInit(init));
      case MUTEX -> mutexInit(init);
      case SET -> new SetModel(setInit(init));
    };
  }

  private static Model strict(RegisterModel model, boolean strictNilReads) {
    return strictNilReads ? model.withStrictNilReads() : model;
  }

  private static Map<Object, Object> multiRegisterInit(Object init) {
    if (init == null) {
      return Map.of();
    }
    if (init instanceof Map<?, ?> map) {
      return new LinkedHashMap<>(map);
    }
    throw new IllegalArgumentException(
        "multi-register starts from a map such as {:x 0 :y 0}, not " + Edn.write(init));
  }

  private static MutexModel mutexInit(Object init) {
    String name =
        switch (init) {
          case null -> "free";
          case Boolean b -> b ? "held" : "free";
          case Symbol s -> s.name();
          case Keyword k -> k.name();
          case String s -> s;
          default -> "";
        };
    name = name.toLowerCase(Locale.ROOT);
    if (FREE_NAMES.contains(name)) {
      return MutexModel.FREE;
    }
    if (HELD_NAMES.contains(name)) {
      return MutexModel.HELD;
    }
    throw new IllegalArgumentException("a mutex starts unlocked or locked, not " + Edn.write(init));
  }

  private static Set<Object> setInit(Object init) {
    if (init == null) {
      return Set.of();
    }
    if (init instanceof Collection<?> collection) {
      return new HashSet<>(collection);
    }
    throw new IllegalArgumentException("a set starts from a collection, not " + Edn.write(init));
  }
}
