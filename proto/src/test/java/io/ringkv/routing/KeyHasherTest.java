package io.ringkv.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Proves that {@link KeyHasher} is xxHash64 (seed 0): every expected value below was computed
 * independently with Debian's {@code xxhsum -H64} (xxhsum 0.8.1), e.g. {@code printf '%s' abc |
 * xxhsum -H64}. The prefix vectors cover every length from 0 to 64, so every path of the algorithm
 * (32-byte stripes, 8-byte, 4-byte and 1-byte tails) is exercised. Also proves the hash-tag rule.
 */
class KeyHasherTest {
  private static final String PATTERN =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?";

  /** xxhsum -H64 of the first n bytes of PATTERN, for n = 0..64. */
  private static final String[] PREFIX_HASHES = {
    "ef46db3751d8e999", "633457081244afec", "6ed10a79b52ef0f5", "1c2dcb4b9024d73d",
    "4c33072b45647dcb", "34cb4c2ee6166f65", "2e47ff2ef217b048", "97ee4fe4a0ff4dfa",
    "e4ba22a49ad89d3f", "43ecc9248bc07d20", "3f5fc178a81867e7", "d9dc70d959571db7",
    "862e292326b8a4fc", "ba453e84431e55e5", "ba6a8d6a56c4fa6c", "4bb51a30968e6a4d",
    "5c5b90c34e376d0b", "8036ee70cd0a1505", "5121ef17ffba54ad", "7646e33fe7ac0dbb",
    "45c2c0e1eb35a0b6", "5229df86bd2b95e6", "7269f75c9cd8a141", "570219a6d2be5d82",
    "c511307085f8fabd", "6e39518e006066c1", "44bbc7661748281a", "14ebc41a62006e55",
    "ae70d0e49b7251ba", "9f1cdccf73da1dca", "f13f3e63b74cabd9", "80adfc1d42020f39",
    "bf7c9dbe16b5c6e2", "e97423e605e2f3b4", "591dc13798c73051", "9ac87a62d22fa180",
    "69196c1b3af0bff9", "1c23ada37e71273b", "8b4c3381ca3b6006", "16ad2d8a60ad5bc2",
    "1b3ce041c106b50b", "43819952a08590d0", "0d14e2361a4fa1ff", "342586e410b68501",
    "6aba4ffe350293d0", "35e383e3c2406cf2", "b35e125dd4555e6d", "e7f6f7fe6db7ff27",
    "1b0dd2759e2a1625", "4d1cd1115a97d7ca", "d4b332e17257155b", "404272f35ab03287",
    "8180c5cf8d7bc97f", "0621b0b75ff4f461", "78dc6b2aa24a1fba", "9626693308f8b899",
    "48ec24d9ee98afad", "302a58aa6cc42e83", "c40cb438527f95f2", "8191adb08ed354be",
    "aa7f88ffc9516c15", "1421b1cae667e915", "7639d419de614eed", "aa4dcad69fac0eb3",
    "c02a83e75f3ed6ed",
  };

  @Test
  void matchesXxhsumOnEmptyInputAndShortStrings() {
    assertThat(hex(KeyHasher.xxHash64(new byte[0]))).isEqualTo("ef46db3751d8e999");
    assertThat(hex(KeyHasher.xxHash64(utf8("a")))).isEqualTo("d24ec4f1a98c6e5b");
    assertThat(hex(KeyHasher.xxHash64(utf8("abc")))).isEqualTo("44bc2cf5ad770999");
    assertThat(hex(KeyHasher.xxHash64(utf8("ringkv")))).isEqualTo("45ed7c8ddf0bd92c");
    assertThat(hex(KeyHasher.xxHash64(utf8("The quick brown fox jumps over the lazy dog"))))
        .isEqualTo("0b242d361fda71bc");
  }

  @Test
  void matchesXxhsumOnEveryPrefixLengthFromZeroTo64() {
    byte[] pattern = utf8(PATTERN);
    for (int length = 0; length <= 64; length++) {
      assertThat(hex(KeyHasher.xxHash64(pattern, 0, length)))
          .as("prefix of length %d", length)
          .isEqualTo(PREFIX_HASHES[length]);
    }
  }

  @Test
  void matchesXxhsumOnLongAndHighBitInputs() {
    // head -c 1000 /dev/zero | xxhsum -H64
    assertThat(hex(KeyHasher.xxHash64(new byte[1000]))).isEqualTo("0e2b1ef27944075a");
    // bytes 0..255
    byte[] all = new byte[256];
    for (int i = 0; i < all.length; i++) {
      all[i] = (byte) i;
    }
    assertThat(hex(KeyHasher.xxHash64(all))).isEqualTo("1facbe8406cd904b");
    // bytes (i*7+200) mod 256 for i in 0..299: mostly >= 0x80, catches sign-extension bugs
    byte[] mixed = new byte[300];
    for (int i = 0; i < mixed.length; i++) {
      mixed[i] = (byte) ((i * 7 + 200) % 256);
    }
    assertThat(hex(KeyHasher.xxHash64(mixed))).isEqualTo("6ebd5e88d7f64e69");
  }

  @Test
  void hashesASliceLikeACopyOfIt() {
    byte[] padded = utf8("xxabcyy");
    assertThat(KeyHasher.xxHash64(padded, 2, 3)).isEqualTo(KeyHasher.xxHash64(utf8("abc")));
  }

  @Test
  void keyWithoutTagHashesWhole() {
    assertThat(KeyHasher.hashKey(utf8("abc"))).isEqualTo(KeyHasher.xxHash64(utf8("abc")));
    assertThat(KeyHasher.hashKey(new byte[0])).isEqualTo(KeyHasher.xxHash64(new byte[0]));
  }

  @Test
  void hashTagHashesOnlyTheTag() {
    long tag = KeyHasher.xxHash64(utf8("42"));
    assertThat(KeyHasher.hashKey(utf8("user:{42}:name"))).isEqualTo(tag);
    assertThat(KeyHasher.hashKey(utf8("user:{42}:email"))).isEqualTo(tag);
    assertThat(KeyHasher.hashKey(utf8("{42}"))).isEqualTo(tag);
    // Only the first '{' and the first '}' after it count.
    assertThat(KeyHasher.hashKey(utf8("a{42}b{7}"))).isEqualTo(tag);
    assertThat(KeyHasher.hashKey(utf8("a{{42}"))).isEqualTo(KeyHasher.xxHash64(utf8("{42")));
  }

  @Test
  void emptyOrUnclosedTagHashesWholeKey() {
    for (String key : new String[] {"{}x", "a{}{b}", "x{", "x{abc", "}{", "}abc{"}) {
      assertThat(KeyHasher.hashKey(utf8(key))).as(key).isEqualTo(KeyHasher.xxHash64(utf8(key)));
    }
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String hex(long hash) {
    return String.format("%016x", hash);
  }
}
