/* test_timeconv.c -- calendar arithmetic, timezones, and the shortcode clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kfts_int.h"

#define NOW_2026_11 1795000000000LL /* 2026-11-18, a fixed "now" so tests do not age */

static void timeconv__shortcode_decodes_known_post(void **state) {
  (void)state;
  int64_t ms = 0;
  /* The first card of corpus/000: a Threads post of 2026-01-20T21:00:06.544Z. */
  assert_int_equal(kfts_shortcode_time(&ms, "DTvy4cbil2v", 11, NOW_2026_11), KFTS_OK);
  char iso[25];
  kftsp_utc_iso(iso, ms);
  assert_string_equal(iso, "2026-01-20T21:00:06.544Z");
  assert_int_equal(kfts_shortcode_time(&ms, "DTu7_XLjib7", 11, NOW_2026_11), KFTS_OK);
  kftsp_utc_iso(iso, ms);
  assert_string_equal(iso, "2026-01-20T13:00:27.376Z");
}

static void timeconv__shortcode_rejects_implausible(void **state) {
  (void)state;
  int64_t ms = 0;
  /* Truncated (10 characters): would decode to 2011. */
  assert_int_equal(kfts_shortcode_time(&ms, "DTc5nyDClh", 10, NOW_2026_11), KFTS_EINPUT);
  /* Bad character. */
  assert_int_equal(kfts_shortcode_time(&ms, "DTvy4cbil2!", 11, NOW_2026_11), KFTS_EINPUT);
  /* In the future relative to "now". */
  assert_int_equal(kfts_shortcode_time(&ms, "DTvy4cbil2v", 11, 1700000000000LL), KFTS_EINPUT);
  /* Before 2016: a small id. */
  assert_int_equal(kfts_shortcode_time(&ms, "AAAAAAAAAAB", 11, NOW_2026_11), KFTS_EINPUT);
  /* Would overflow 64 bits. */
  assert_int_equal(kfts_shortcode_time(&ms, "___________", 11, NOW_2026_11), KFTS_EINPUT);
  assert_int_equal(kfts_shortcode_time(&ms, "", 0, NOW_2026_11), KFTS_EINPUT);
}

static void timeconv__civil_round_trip(void **state) {
  (void)state;
  assert_int_equal(kftsp_days_from_civil(1970, 1, 1), 0);
  assert_int_equal(kftsp_days_from_civil(2000, 3, 1), 11017);
  for (int64_t z = -800000; z < 800000; z += 997) {
    int y, m, d;
    kftsp_civil_from_days(z, &y, &m, &d);
    assert_true(kftsp_valid_ymd(y, m, d) || y < 1);
    assert_int_equal(kftsp_days_from_civil(y, m, d), z);
  }
  assert_true(kftsp_valid_ymd(2024, 2, 29));
  assert_false(kftsp_valid_ymd(2025, 2, 29));
  assert_false(kftsp_valid_ymd(2025, 13, 99));
  assert_false(kftsp_valid_ymd(1900, 2, 29));
}

static void timeconv__seoul_day_boundary(void **state) {
  (void)state;
  kftsp_tz *tz = NULL;
  kfts_error err;
  assert_int_equal(kftsp_tz_load(&tz, "Asia/Seoul", &err), KFTS_OK);
  char day[11];
  /* 2026-01-20T14:59:59Z is 23:59:59 in Seoul; one second later is the 21st. */
  int64_t t = (kftsp_days_from_civil(2026, 1, 20) * 86400 + 14 * 3600 + 59 * 60 + 59) * 1000;
  kftsp_tz_date(day, tz, t);
  assert_string_equal(day, "2026-01-20");
  kftsp_tz_date(day, tz, t + 1000);
  assert_string_equal(day, "2026-01-21");
  assert_int_equal(kftsp_tz_offset(tz, t / 1000), 9 * 3600);
  kftsp_tz_free(tz);
}

static void timeconv__daylight_saving_zone(void **state) {
  (void)state;
  kftsp_tz *tz = NULL;
  assert_int_equal(kftsp_tz_load(&tz, "America/New_York", NULL), KFTS_OK);
  int64_t jan = kftsp_days_from_civil(2025, 1, 15) * 86400;
  int64_t jul = kftsp_days_from_civil(2025, 7, 15) * 86400;
  assert_int_equal(kftsp_tz_offset(tz, jan), -5 * 3600);
  assert_int_equal(kftsp_tz_offset(tz, jul), -4 * 3600);
  kftsp_tz_free(tz);
}

static void timeconv__fixed_offsets_and_bad_names(void **state) {
  (void)state;
  kftsp_tz *tz = NULL;
  kfts_error err;
  assert_int_equal(kftsp_tz_load(&tz, "+09:00", &err), KFTS_OK);
  assert_int_equal(kftsp_tz_offset(tz, 0), 9 * 3600);
  kftsp_tz_free(tz);
  assert_int_equal(kftsp_tz_load(&tz, "-0530", &err), KFTS_OK);
  assert_int_equal(kftsp_tz_offset(tz, 0), -(5 * 3600 + 30 * 60));
  kftsp_tz_free(tz);
  assert_int_equal(kftsp_tz_load(&tz, "UTC", &err), KFTS_OK);
  kftsp_tz_free(tz);
  assert_int_equal(kftsp_tz_load(&tz, "Mars/Olympus", &err), KFTS_EUSAGE);
  assert_non_null(strstr(err.message, "Mars/Olympus"));
  assert_int_equal(kftsp_tz_load(&tz, "../../etc/passwd", &err), KFTS_EUSAGE);
  assert_int_equal(kftsp_tz_load(&tz, "+25:00", &err), KFTS_EUSAGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(timeconv__shortcode_decodes_known_post),
      cmocka_unit_test(timeconv__shortcode_rejects_implausible),
      cmocka_unit_test(timeconv__civil_round_trip),
      cmocka_unit_test(timeconv__seoul_day_boundary),
      cmocka_unit_test(timeconv__daylight_saving_zone),
      cmocka_unit_test(timeconv__fixed_offsets_and_bad_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
