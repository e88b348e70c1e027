package io.ringkv.deploy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import tools.jackson.databind.ObjectMapper;

/**
 * Reads Kubernetes manifests offline and as strictly as the API server would: each document must be
 * one of the kinds ringkv ships, its fields must have the API's types, and no field may be unknown.
 * The Kubernetes model classes keep unknown fields aside instead of failing (so that newer servers'
 * fields survive a round trip); this reader walks every object it built and fails on any such
 * field, naming its path, the way {@code kubectl apply --validate=strict} does.
 */
final class StrictManifests {
  private static final Map<String, Class<? extends HasMetadata>> KINDS =
      Map.of(
          "v1/ConfigMap", ConfigMap.class,
          "v1/Service", Service.class,
          "apps/v1/StatefulSet", StatefulSet.class,
          "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class);

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private StrictManifests() {}

  /** Every document of every {@code .yaml} file in {@code folder}, in file order. */
  static List<HasMetadata> readFolder(Path folder) throws IOException {
    List<HasMetadata> documents = new ArrayList<>();
    try (var files = Files.list(folder)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        documents.addAll(read(file.getFileName().toString(), Files.readString(file)));
      }
    }
    return documents;
  }

  /** The documents of one YAML text; {@code source} names it in errors. */
  static List<HasMetadata> read(String source, String yamlText) {
    List<HasMetadata> documents = new ArrayList<>();
    int index = 0;
    for (Object document : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(yamlText)) {
      String where = source + " document " + index++;
      if (document == null) {
        continue;
      }
      if (!(document instanceof Map<?, ?> map)) {
        throw new IllegalArgumentException(where + ": not a map");
      }
      String kind = map.get("apiVersion") + "/" + map.get("kind");
      Class<? extends HasMetadata> type = KINDS.get(kind);
      if (type == null) {
        throw new IllegalArgumentException(where + ": unexpected kind " + kind);
      }
      HasMetadata object;
      try {
        object = MAPPER.convertValue(map, type);
      } catch (RuntimeException e) { // Jackson's errors: a wrong type, a malformed value
        throw new IllegalArgumentException(where + " (" + kind + "): " + e.getMessage(), e);
      }
      List<String> unknown = new ArrayList<>();
      collectUnknownFields(object, kind, unknown);
      if (!unknown.isEmpty()) {
        throw new IllegalArgumentException(where + ": unknown fields " + unknown);
      }
      documents.add(object);
    }
    return documents;
  }

  /** Adds the path of every field the model did not know, anywhere below {@code value}. */
  private static void collectUnknownFields(Object value, String path, List<String> unknown) {
    if (value instanceof Map<?, ?> map) {
      map.forEach((key, item) -> collectUnknownFields(item, path + "." + key, unknown));
      return;
    }
    if (value instanceof Collection<?> items) {
      int index = 0;
      for (Object item : items) {
        collectUnknownFields(item, path + "[" + index++ + "]", unknown);
      }
      return;
    }
    if (value == null || !value.getClass().getName().startsWith("io.fabric8.kubernetes.api")) {
      return;
    }
    for (Method getter : value.getClass().getMethods()) {
      String name = getter.getName();
      if (getter.getParameterCount() != 0
          || Modifier.isStatic(getter.getModifiers())
          || !name.startsWith("get")
          || name.equals("getClass")) {
        continue;
      }
      Object field = invoke(getter, value);
      if (name.equals("getAdditionalProperties")) {
        if (field instanceof Map<?, ?> extra) {
          extra.keySet().forEach(key -> unknown.add(path + "." + key));
        }
      } else {
        collectUnknownFields(field, path + "." + decapitalize(name.substring(3)), unknown);
      }
    }
  }

  private static Object invoke(Method getter, Object target) {
    try {
      return getter.invoke(target);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + getter, e);
    }
  }

  private static String decapitalize(String name) {
    return name.isEmpty() ? name : Character.toLowerCase(name.charAt(0)) + name.substring(1);
  }
}
