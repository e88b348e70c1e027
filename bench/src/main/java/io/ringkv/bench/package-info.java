/**
 * ringkv benchmarks. JMH microbenchmarks live in sub-packages per module ({@code storage}, {@code
 * raft}); build with {@code ./mvnw -pl bench -am package -DskipTests} and run {@code java
 * --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar <regex>}.
 */
package io.ringkv.bench;
