package io.ringkv.jepsen.model;

import io.ringkv.jepsen.history.Edn;
import java.util.List;
import java.util.Objects;

/**
 * A single register: {@code :read v} is legal when v is the current value, {@code :write v} sets it
 * and, when {@code casAllowed}, {@code :cas [old new]} sets it to new if it holds old.
 *
 * <p>Unless {@code strictNilReads}, a read of {@code nil} means "value unknown" and is always legal
 * (the convention of Knossos histories, whose reads are invoked with nil). With strict nil reads,
 * nil is a real value: the register starts absent ({@code nil}) and a nil read must see it absent.
 */
public record RegisterModel(Object value, boolean casAllowed, boolean strictNilReads)
    implements Model {

  /** A read/write register holding {@code initial}. */
  public static RegisterModel register(Object initial) {
    return new RegisterModel(initial, false, false);
  }

  /** A read/write/cas register holding {@code initial}. */
  public static RegisterModel casRegister(Object initial) {
    return new RegisterModel(initial, true, false);
  }

  /** The same register, with nil reads treated as real reads of an absent value. */
  public RegisterModel withStrictNilReads() {
    return new RegisterModel(value, casAllowed, true);
  }

  @Override
  public Model step(Object f, Object operand) {
    if (Ops.READ.equals(f)) {
      boolean unknownRead = operand == null && !strictNilReads;
      return unknownRead || Objects.equals(operand, value) ? this : null;
    }
    if (Ops.WRITE.equals(f)) {
      return with(operand);
    }
    if (casAllowed && Ops.CAS.equals(f)) {
      List<?> pair = casPair(operand);
      return Objects.equals(pair.get(0), value) ? with(pair.get(1)) : null;
    }
    throw Ops.unknown(name(), f);
  }

  @Override
  public void checkOperation(Object f, Object operand) {
    if (casAllowed && Ops.CAS.equals(f)) {
      casPair(operand);
    } else if (!Ops.READ.equals(f) && !Ops.WRITE.equals(f)) {
      throw Ops.unknown(name(), f);
    }
  }

  @Override
  public boolean isReadOnly(Object f, Object operand) {
    return Ops.READ.equals(f);
  }

  private RegisterModel with(Object newValue) {
    return Objects.equals(newValue, value)
        ? this
        : new RegisterModel(newValue, casAllowed, strictNilReads);
  }

  private String name() {
    return casAllowed ? "cas-register" : "register";
  }

  private static List<?> casPair(Object operand) {
    if (operand instanceof List<?> pair && pair.size() == 2) {
      return pair;
    }
    throw new IllegalArgumentException(":cas takes a value [old new], not " + Edn.write(operand));
  }

  @Override
  public String toString() {
    return Edn.write(value);
  }
}
