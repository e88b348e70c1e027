package io.ringkv.bench.ycsb;

import java.util.function.Supplier;

/**
 * One client shared by every YCSB worker thread of a JVM (YCSB makes one {@code DB} per thread; a
 * client per thread would open a connection pool per thread). Reference counted: the last {@code
 * release} closes it.
 */
final class SharedResource<T extends AutoCloseable> {
  private T resource;
  private int users;

  synchronized T acquire(Supplier<T> factory) {
    if (resource == null) {
      resource = factory.get();
    }
    users++;
    return resource;
  }

  synchronized void release() throws Exception {
    if (users == 0) {
      return;
    }
    users--;
    if (users == 0) {
      T closing = resource;
      resource = null;
      closing.close();
    }
  }
}
