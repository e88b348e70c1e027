package io.ringkv.jepsen.model;

import io.ringkv.jepsen.history.Edn;
import io.ringkv.jepsen.history.Keyword;

/** Operation names the models understand, and the errors they share. */
final class Ops {
  static final Keyword READ = Keyword.of("read");
  static final Keyword WRITE = Keyword.of("write");
  static final Keyword CAS = Keyword.of("cas");
  static final Keyword TXN = Keyword.of("txn");
  static final Keyword ACQUIRE = Keyword.of("acquire");
  static final Keyword RELEASE = Keyword.of("release");
  static final Keyword ADD = Keyword.of("add");

  private Ops() {}

  static IllegalArgumentException unknown(String model, Object f) {
    return new IllegalArgumentException("the " + model + " model has no operation " + Edn.write(f));
  }
}
