/*
** timeconv.c -- calendar arithmetic, timezones and the Instagram/Threads shortcode clock.
**
** Timezones are read from the system's TZif files (RFC 8536) rather than through
** setenv("TZ")/localtime, which would change process-wide state under the caller.
** Only the transition table is used: instants past its end keep the last offset, which is
** exact for zones without daylight saving (Asia/Seoul) and for fat TZif files (to 2037).
*/
#include "kfts_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
int64_t kftsp_days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int kftsp_parse_day(const char *s, int64_t *z) {
  int v[8];
  if (!s) return 0;
  for (int i = 0, k = 0; i < 10; i++) {
    if (i == 4 || i == 7) {
      if (s[i] != '-') return 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      v[k++] = s[i] - '0';
    } else {
      return 0;
    }
  }
  if (s[10]) return 0;
  *z = kftsp_days_from_civil(v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3], v[4] * 10 + v[5], v[6] * 10 + v[7]);
  return 1;
}

void kftsp_civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

int kftsp_valid_ymd(int y, int m, int d) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return 0;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= mdays[m - 1] + (m == 2 && leap);
}

struct kftsp_tz {
  size_t n;       /* transitions */
  int64_t *at;    /* transition times, ascending */
  long *off;      /* offset in effect from at[i] */
  long initial;   /* offset before the first transition (or the fixed offset) */
};

static int64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return (int64_t)v;
}

static int32_t be32(const unsigned char *p) {
  return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* Parses "+09:00", "-0530", "UTC", "Z" into seconds east of UTC. */
static int parse_fixed(const char *s, long *off) {
  if (!strcmp(s, "UTC") || !strcmp(s, "Z") || !strcmp(s, "GMT")) {
    *off = 0;
    return 1;
  }
  if (!strncmp(s, "UTC", 3)) s += 3;
  if (*s != '+' && *s != '-') return 0;
  int sign = *s == '-' ? -1 : 1;
  s++;
  int h = 0, m = 0, k = 0;
  while (*s >= '0' && *s <= '9' && k < 2) h = h * 10 + (*s++ - '0'), k++;
  if (!k) return 0;
  if (*s == ':') s++;
  k = 0;
  while (*s >= '0' && *s <= '9' && k < 2) m = m * 10 + (*s++ - '0'), k++;
  if (*s || h > 14 || m > 59) return 0;
  *off = sign * (h * 3600L + m * 60L);
  return 1;
}

/* Reads a TZif file's v2+ (64-bit) body, or its v1 body when there is none. */
static int parse_tzif(kftsp_tz *tz, const unsigned char *d, size_t len) {
  if (len < 44 || memcmp(d, "TZif", 4) != 0) return 0;
  int version = d[4];
  size_t pos = 0;
  int tsize = 4;
  for (int pass = 0; pass < 2; pass++) {
    if (pos + 44 > len) return 0;
    const unsigned char *h = d + pos;
    size_t isutc = (size_t)be32(h + 20), isstd = (size_t)be32(h + 24);
    size_t leap = (size_t)be32(h + 28), timecnt = (size_t)be32(h + 32);
    size_t typecnt = (size_t)be32(h + 36), charcnt = (size_t)be32(h + 40);
    size_t body = timecnt * (size_t)tsize + timecnt + typecnt * 6 + charcnt +
                  leap * (size_t)(tsize + 4) + isstd + isutc;
    if (pass == 0 && version >= '2') {
      pos += 44 + body;
      tsize = 8;
      continue;
    }
    if (typecnt == 0 || pos + 44 + body > len) return 0;
    const unsigned char *t = d + pos + 44;
    const unsigned char *idx = t + timecnt * (size_t)tsize;
    const unsigned char *types = idx + timecnt;
    tz->at = kftsp_malloc((timecnt + 1) * sizeof *tz->at);
    tz->off = kftsp_malloc((timecnt + 1) * sizeof *tz->off);
    if (!tz->at || !tz->off) return -1;
    for (size_t i = 0; i < timecnt; i++) {
      tz->at[i] = tsize == 8 ? be64(t + i * 8) : be32(t + i * 4);
      size_t ty = idx[i];
      if (ty >= typecnt) return 0;
      tz->off[i] = be32(types + ty * 6);
    }
    tz->n = timecnt;
    /* RFC 8536 3.2: local time type 0 applies before the first transition. */
    tz->initial = be32(types);
    return 1;
  }
  return 0;
}

int kftsp_tz_load(kftsp_tz **out, const char *name, kfts_error *err) {
  *out = NULL;
  if (!name || !*name) name = "Asia/Seoul";
  kftsp_tz *tz = kftsp_malloc(sizeof *tz);
  if (!tz) return KFTS_ENOMEM;
  memset(tz, 0, sizeof *tz);
  if (parse_fixed(name, &tz->initial)) {
    *out = tz;
    return KFTS_OK;
  }
  /* IANA names only: letters, digits, '/', '_', '-', '+'; no "..". */
  int ok = name[0] != '/' && strstr(name, "..") == NULL;
  for (const char *p = name; ok && *p; p++)
    ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
         *p == '/' || *p == '_' || *p == '-' || *p == '+';
  int rc = KFTS_EUSAGE;
  if (ok) {
    const char *dir = getenv("TZDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    if (f) {
      unsigned char buf[1 << 16];
      size_t len = fread(buf, 1, sizeof buf, f);
      fclose(f);
      int r = parse_tzif(tz, buf, len);
      rc = r > 0 ? KFTS_OK : r < 0 ? KFTS_ENOMEM : KFTS_EUSAGE;
    }
  }
  if (rc != KFTS_OK) {
    kftsp_tz_free(tz);
    if (rc == KFTS_ENOMEM) return rc;
    return kftsp_err(err, KFTS_EUSAGE, "timezone", 0,
                     "unknown timezone '%s' (use an IANA name such as Asia/Seoul with tzdata "
                     "installed, or an offset such as +09:00)",
                     name);
  }
  *out = tz;
  return KFTS_OK;
}

void kftsp_tz_free(kftsp_tz *tz) {
  if (!tz) return;
  kftsp_free(tz->at);
  kftsp_free(tz->off);
  kftsp_free(tz);
}

long kftsp_tz_offset(const kftsp_tz *tz, int64_t t) {
  if (tz->n == 0 || t < tz->at[0]) return tz->initial;
  size_t lo = 0, hi = tz->n; /* invariant: at[lo] <= t, and t < at[hi] when hi < n */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (tz->at[mid] <= t) lo = mid;
    else hi = mid;
  }
  return tz->off[lo];
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

void kftsp_tz_date(char out[11], const kftsp_tz *tz, int64_t ms) {
  int64_t s = floor_div(ms, 1000);
  int64_t local = s + kftsp_tz_offset(tz, s);
  int y, m, d;
  kftsp_civil_from_days(floor_div(local, 86400), &y, &m, &d);
  kftsp_format_ymd(out, y, m, d);
}

void kftsp_format_ymd(char out[11], int y, int m, int d) {
  char tmp[48]; /* wide enough for any int, so the format cannot truncate */
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
  memcpy(out, tmp, 10);
  out[10] = 0;
}

void kftsp_utc_iso(char out[25], int64_t ms) {
  int64_t s = floor_div(ms, 1000);
  int64_t days = floor_div(s, 86400);
  int64_t sod = s - days * 86400;
  int y, m, d;
  kftsp_civil_from_days(days, &y, &m, &d);
  char tmp[96]; /* wide enough for any int, so the format cannot truncate */
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(sod / 3600),
           (int)(sod / 60 % 60), (int)(sod % 60), (int)(ms - s * 1000));
  memcpy(out, tmp, 24);
  out[24] = 0;
}

int64_t kftsp_now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
** Instagram (and Threads, which shares its ids) media ids are 64-bit: the top 41 bits
** count milliseconds since 2011-08-24T21:07:01.721Z, then 13 bits of shard and 10 of
** sequence. A post's shortcode is the id in base 64 over A-Z a-z 0-9 - _. Since 2016
** every post id needs 11 digits; a shorter code is a truncated link.
*/
#define IG_EPOCH_MS 1314220021721LL
#define MIN_PLAUSIBLE_MS 1451606400000LL /* 2016-01-01T00:00:00Z */

int kfts_shortcode_time(int64_t *ms_out, const char *code, size_t len, int64_t now_ms) {
  if (len != 11) return KFTS_EINPUT;
  uint64_t id = 0;
  for (size_t i = 0; i < len; i++) {
    char c = code[i];
    unsigned v;
    if (c >= 'A' && c <= 'Z') v = (unsigned)(c - 'A');
    else if (c >= 'a' && c <= 'z') v = (unsigned)(c - 'a') + 26;
    else if (c >= '0' && c <= '9') v = (unsigned)(c - '0') + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return KFTS_EINPUT;
    if (id >> 58) return KFTS_EINPUT; /* would overflow 64 bits */
    id = id << 6 | v;
  }
  int64_t ms = (int64_t)(id >> 23) + IG_EPOCH_MS;
  if (ms < MIN_PLAUSIBLE_MS || ms > now_ms + 86400000LL) return KFTS_EINPUT;
  *ms_out = ms;
  return KFTS_OK;
}
