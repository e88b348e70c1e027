package io.ringkv.jepsen.model;

/**
 * A single lock with no owner: {@code :acquire} is legal only when it is free and takes it, {@code
 * :release} is legal only when it is held and frees it.
 */
public record MutexModel(boolean locked) implements Model {
  public static final MutexModel FREE = new MutexModel(false);
  public static final MutexModel HELD = new MutexModel(true);

  @Override
  public Model step(Object f, Object value) {
    if (Ops.ACQUIRE.equals(f)) {
      return locked ? null : HELD;
    }
    if (Ops.RELEASE.equals(f)) {
      return locked ? FREE : null;
    }
    throw Ops.unknown("mutex", f);
  }

  @Override
  public void checkOperation(Object f, Object value) {
    if (!Ops.ACQUIRE.equals(f) && !Ops.RELEASE.equals(f)) {
      throw Ops.unknown("mutex", f);
    }
  }

  @Override
  public boolean isReadOnly(Object f, Object value) {
    return false;
  }

  @Override
  public String toString() {
    return locked ? "locked" : "free";
  }
}
