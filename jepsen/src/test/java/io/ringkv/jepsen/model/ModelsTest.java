package io.ringkv.jepsen.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ringkv.jepsen.history.EdnReader;
import io.ringkv.jepsen.history.Keyword;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Proves each model's sequential rules, one operation at a time: which operations are legal in
 * which state, which state they lead to, that states are values (equal states are equal and hash
 * alike, so the checker's memo works), how initial states are read from EDN, and that operations a
 * model does not know are rejected with a message.
 */
class ModelsTest {
  private static final Keyword READ = Keyword.of("read");
  private static final Keyword WRITE = Keyword.of("write");
  private static final Keyword CAS = Keyword.of("cas");
  private static final Keyword TXN = Keyword.of("txn");
  private static final Keyword ADD = Keyword.of("add");

  private static Object edn(String text) throws Exception {
    return EdnReader.readOne(text, "test");
  }

  @Test
  void registerReadsWritesAndTreatsNilReadsAsUnknown() {
    Model zero = RegisterModel.register(0L);
    assertThat(zero.step(READ, 0L)).isEqualTo(zero);
    assertThat(zero.step(READ, 1L)).isNull();
    assertThat(zero.step(READ, null)).isEqualTo(zero);
    Model one = zero.step(WRITE, 1L);
    assertThat(one).isEqualTo(RegisterModel.register(1L));
    assertThat(one.hashCode()).isEqualTo(RegisterModel.register(1L).hashCode());
    assertThat(one.step(READ, 1L)).isEqualTo(one);
    assertThatThrownBy(() -> zero.step(CAS, List.of(0L, 1L)))
        .hasMessageContaining("register model has no operation :cas");
    assertThat(zero.isReadOnly(READ, 0L)).isTrue();
    assertThat(zero.isReadOnly(WRITE, 0L)).isFalse();
  }

  @Test
  void strictNilReadsSeeAnAbsentRegister() {
    Model absent = RegisterModel.register(null).withStrictNilReads();
    assertThat(absent.step(READ, null)).isEqualTo(absent);
    Model written = absent.step(WRITE, 5L);
    assertThat(written.step(READ, null)).isNull();
    assertThat(written.step(READ, 5L)).isEqualTo(written);
  }

  @Test
  void casRegisterComparesAndSets() {
    Model zero = RegisterModel.casRegister(0L);
    assertThat(zero.step(CAS, List.of(0L, 3L))).isEqualTo(RegisterModel.casRegister(3L));
    assertThat(zero.step(CAS, List.of(1L, 3L))).isNull();
    assertThat(zero.isReadOnly(CAS, List.of(0L, 3L))).isFalse();
    assertThatThrownBy(() -> zero.checkOperation(CAS, 3L)).hasMessageContaining("[old new]");
    assertThatThrownBy(() -> zero.checkOperation(Keyword.of("incr"), 1L))
        .hasMessageContaining("cas-register model has no operation :incr");
  }

  @Test
  void multiRegisterAppliesMicroOpsInOrder() throws Exception {
    Model start = ModelKind.MULTI_REGISTER.initial(edn("{:x 0 :y 0}"), false);
    assertThat(start.step(TXN, edn("[[:read :x 0] [:read :y nil]]"))).isEqualTo(start);
    assertThat(start.step(TXN, edn("[[:read :x 1]]"))).isNull();
    Model after = start.step(TXN, edn("[[:write :x 2] [:read :x 2] [:w :y 3]]"));
    assertThat(after)
        .isEqualTo(new MultiRegisterModel(Map.of(Keyword.of("x"), 2L, Keyword.of("y"), 3L)));
    // A read before the write in the same transaction sees the old value.
    assertThat(start.step(TXN, edn("[[:read :x 2] [:write :x 2]]"))).isNull();
    assertThat(start.isReadOnly(TXN, edn("[[:read :x nil] [:r :y nil]]"))).isTrue();
    assertThat(start.isReadOnly(TXN, edn("[[:read :x nil] [:write :y 1]]"))).isFalse();
    assertThatThrownBy(() -> start.checkOperation(TXN, edn("[[:incr :x 1]]")))
        .hasMessageContaining("micro-op");
  }

  @Test
  void mutexAcquiresOnlyWhenFreeAndReleasesOnlyWhenHeld() throws Exception {
    Model free = ModelKind.MUTEX.initial(edn("unlocked"), false);
    assertThat(free).isEqualTo(MutexModel.FREE);
    assertThat(free.step(Keyword.of("release"), null)).isNull();
    Model held = free.step(Keyword.of("acquire"), null);
    assertThat(held).isEqualTo(MutexModel.HELD);
    assertThat(held.step(Keyword.of("acquire"), null)).isNull();
    assertThat(held.step(Keyword.of("release"), null)).isEqualTo(free);
    assertThat(ModelKind.MUTEX.initial(null, false)).isEqualTo(MutexModel.FREE);
    assertThat(ModelKind.MUTEX.initial(edn(":locked"), false)).isEqualTo(MutexModel.HELD);
    assertThatThrownBy(() -> ModelKind.MUTEX.initial(5L, false))
        .hasMessageContaining("unlocked or locked");
  }

  @Test
  void setAddsAndReadsTheWholeSet() throws Exception {
    Model empty = ModelKind.SET.initial(null, false);
    Model one = empty.step(ADD, 1L);
    Model two = one.step(ADD, 2L);
    assertThat(two.step(READ, edn("#{2 1}"))).isEqualTo(two);
    assertThat(two.step(READ, edn("[1 2]"))).isEqualTo(two);
    assertThat(two.step(READ, edn("#{1}"))).isNull();
    assertThat(two.step(READ, null)).isEqualTo(two);
    assertThat(two.step(ADD, 1L)).isEqualTo(two);
    assertThat(empty.step(ADD, 2L).step(ADD, 1L)).isEqualTo(two);
    assertThat(two).isEqualTo(new SetModel(Set.of(1L, 2L)));
    assertThat(two.sizeEstimateBytes()).isGreaterThan(empty.sizeEstimateBytes());
    assertThatThrownBy(() -> two.checkOperation(READ, 3L)).hasMessageContaining("collection");
  }

  @Test
  void kindsAreFoundByTheirCommandLineNames() {
    for (ModelKind kind : ModelKind.values()) {
      assertThat(ModelKind.fromName(kind.cliName())).isEqualTo(kind);
    }
    assertThatThrownBy(() -> ModelKind.fromName("queue")).hasMessageContaining("unknown model");
    assertThat(ModelKind.CAS_REGISTER.initial(null, false))
        .isEqualTo(RegisterModel.casRegister(null));
    assertThat(ModelKind.SET.initial(Arrays.asList(1L, 1L), false))
        .isEqualTo(new SetModel(Set.of(1L)));
  }
}
