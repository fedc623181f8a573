/*
** manifest.c -- kfts.json: defaults for the files of a corpus.
**
**   { "timezone": "Asia/Seoul",
**     "source": "...", "date": "YYYY-MM-DD", "format": "...", "topics": [...],
**     "aliases": [["OpenAI", "오픈AI"], ...],
**     "files": { "GLOB": { "source", "date", "format", "topics" }, ... } }
**
** Top-level values apply to every file; each matching "files" entry overrides them, in
** the order written. Globs are matched (fnmatch) against the path relative to the
** manifest's folder, and, when they hold no '/', against the file name.
*/
#include "kfts_int.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  char *glob; /* NULL for the top-level defaults */
  char *source, *date, *format;
  char **topics;
  size_t n_topics;
  int has_topics;
} entry;

struct kftsp_manifest {
  char *dir; /* folder holding the manifest, absolute, no trailing '/' */
  char *timezone;
  char *aliases; /* the "aliases" value as compact JSON, checked, or NULL */
  entry *e;
  size_t n;
};

static const char *const formats[] = {"cards", "crawl", "podcast", "newsletter", "text"};

static int load_entry(entry *e, json_t *o, const char *path, const char *where, int top,
                      kfts_error *err) {
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    if (top && (!strcmp(key, "files") || !strcmp(key, "timezone") || !strcmp(key, "aliases"))) continue;
    if (!strcmp(key, "source") || !strcmp(key, "date") || !strcmp(key, "format")) {
      if (!json_is_string(v))
        return kftsp_err(err, KFTS_EUSAGE, path, 0, "%s: \"%s\" must be a string", where, key);
      const char *s = json_string_value(v);
      char day[11];
      if (!strcmp(key, "date") && !kftsp_parse_date(s, strlen(s), day))
        return kftsp_err(err, KFTS_EUSAGE, path, 0, "%s: date \"%s\" is not YYYY-MM-DD", where, s);
      if (!strcmp(key, "format")) {
        int ok = 0;
        for (size_t i = 0; i < KFTSP_ARRAY_LEN(formats); i++) ok |= !strcmp(s, formats[i]);
        if (!ok)
          return kftsp_err(err, KFTS_EUSAGE, path, 0,
                           "%s: format \"%s\" is not one of cards, crawl, podcast, newsletter, text",
                           where, s);
      }
      char **dst = !strcmp(key, "source") ? &e->source : !strcmp(key, "date") ? &e->date : &e->format;
      kftsp_free(*dst);
      *dst = kftsp_strdup(!strcmp(key, "date") ? day : s);
      if (!*dst) return KFTS_ENOMEM;
    } else if (!strcmp(key, "topics")) {
      if (!json_is_array(v))
        return kftsp_err(err, KFTS_EUSAGE, path, 0, "%s: \"topics\" must be a list of strings", where);
      size_t n = json_array_size(v);
      e->topics = kftsp_malloc((n + 1) * sizeof *e->topics);
      if (!e->topics) return KFTS_ENOMEM;
      e->has_topics = 1;
      for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(v, i);
        if (!json_is_string(t))
          return kftsp_err(err, KFTS_EUSAGE, path, 0, "%s: \"topics\" must be a list of strings", where);
        if (!(e->topics[e->n_topics] = kftsp_strdup(json_string_value(t)))) return KFTS_ENOMEM;
        e->n_topics++;
      }
    } else {
      return kftsp_err(err, KFTS_EUSAGE, path, 0,
                       "%s: unknown key \"%s\" (expected source, date, format, topics%s)", where,
                       key, top ? ", timezone, aliases, files" : "");
    }
  }
  return KFTS_OK;
}

int kftsp_manifest_load(kftsp_manifest **out, const char *path, kfts_error *err) {
  *out = NULL;
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    FILE *f = fopen(path, "r");
    if (!f) return kftsp_err(err, KFTS_EIO, path, 0, "cannot read manifest");
    fclose(f);
    return kftsp_err(err, KFTS_EUSAGE, path, je.line, "invalid JSON: %s", je.text);
  }
  kftsp_manifest *m = kftsp_malloc(sizeof *m);
  int rc = m ? KFTS_OK : KFTS_ENOMEM;
  if (m) memset(m, 0, sizeof *m);
  if (rc == KFTS_OK && !json_is_object(root))
    rc = kftsp_err(err, KFTS_EUSAGE, path, 0, "the manifest must be a JSON object");
  json_t *files = rc ? NULL : json_object_get(root, "files");
  if (rc == KFTS_OK && files && !json_is_object(files))
    rc = kftsp_err(err, KFTS_EUSAGE, path, 0, "\"files\" must map globs to objects");
  size_t n = 1 + (files ? json_object_size(files) : 0);
  if (rc == KFTS_OK) {
    m->e = kftsp_malloc(n * sizeof *m->e);
    if (!m->e) rc = KFTS_ENOMEM;
    else memset(m->e, 0, n * sizeof *m->e);
  }
  if (rc == KFTS_OK) {
    m->n = 1;
    rc = load_entry(&m->e[0], root, path, "manifest", 1, err);
  }
  json_t *tzv = rc ? NULL : json_object_get(root, "timezone");
  if (tzv) {
    kftsp_tz *tz = NULL;
    if (!json_is_string(tzv)) rc = kftsp_err(err, KFTS_EUSAGE, path, 0, "\"timezone\" must be a string");
    else if ((rc = kftsp_tz_load(&tz, json_string_value(tzv), err)) != KFTS_OK) {
      if (err) snprintf(err->source, sizeof err->source, "%s", path);
    } else if (!(m->timezone = kftsp_strdup(json_string_value(tzv)))) rc = KFTS_ENOMEM;
    kftsp_tz_free(tz);
  }
  json_t *al = rc ? NULL : json_object_get(root, "aliases");
  if (al) {
    kftsp_aliases *check = NULL;
    rc = kftsp_aliases_new(&check);
    if (!rc) rc = kftsp_aliases_add_value(check, al, path, err);
    kftsp_aliases_free(check);
    if (!rc && !(m->aliases = json_dumps(al, JSON_COMPACT))) rc = KFTS_ENOMEM;
  }
  const char *glob;
  json_t *v;
  if (rc == KFTS_OK && files) {
    json_object_foreach(files, glob, v) {
      char where[300];
      snprintf(where, sizeof where, "files[\"%s\"]", glob);
      entry *e = &m->e[m->n++];
      if (!json_is_object(v)) {
        rc = kftsp_err(err, KFTS_EUSAGE, path, 0, "%s must be an object", where);
        break;
      }
      if (!(e->glob = kftsp_strdup(glob))) rc = KFTS_ENOMEM;
      if (rc == KFTS_OK) rc = load_entry(e, v, path, where, 0, err);
      if (rc) break;
    }
  }
  if (rc == KFTS_OK) {
    char abs[4096];
    if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
    char *slash = strrchr(abs, '/');
    if (slash) *slash = 0;
    if (!(m->dir = kftsp_strdup(abs))) rc = KFTS_ENOMEM;
  }
  json_decref(root);
  if (rc) {
    kftsp_manifest_free(m);
    if (rc == KFTS_ENOMEM) return kftsp_err(err, rc, path, 0, "out of memory");
    return rc;
  }
  *out = m;
  return KFTS_OK;
}

const char *kftsp_manifest_aliases(const kftsp_manifest *m) { return m ? m->aliases : NULL; }

void kftsp_manifest_free(kftsp_manifest *m) {
  if (!m) return;
  free(m->aliases); /* from json_dumps */
  for (size_t i = 0; i < m->n; i++) {
    entry *e = &m->e[i];
    kftsp_free(e->glob);
    kftsp_free(e->source);
    kftsp_free(e->date);
    kftsp_free(e->format);
    for (size_t t = 0; t < e->n_topics; t++) kftsp_free(e->topics[t]);
    kftsp_free(e->topics);
  }
  kftsp_free(m->e);
  kftsp_free(m->dir);
  kftsp_free(m->timezone);
  kftsp_free(m);
}

static uint64_t mix(uint64_t h, const char *s) {
  return s ? kftsp_fnv1a(h, s, strlen(s) + 1) : kftsp_fnv1a(h, "", 1);
}

static int glob_matches(const kftsp_manifest *m, const char *glob, const char *abs_path) {
  size_t dl = strlen(m->dir);
  const char *rel = abs_path;
  if (!strncmp(abs_path, m->dir, dl) && abs_path[dl] == '/') rel = abs_path + dl + 1;
  const char *base = strrchr(abs_path, '/');
  base = base ? base + 1 : abs_path;
  if (fnmatch(glob, rel, FNM_PATHNAME) == 0) return 1;
  return !strchr(glob, '/') && fnmatch(glob, base, 0) == 0;
}

uint64_t kftsp_manifest_apply(const kftsp_manifest *m, const char *abs_path, kfts_file_opts *o) {
  memset(o, 0, sizeof *o);
  for (size_t i = 0; m && i < m->n; i++) {
    const entry *e = &m->e[i];
    if (e->glob && !glob_matches(m, e->glob, abs_path)) continue;
    if (e->source) o->source = e->source;
    if (e->date) o->date = e->date;
    if (e->format) o->format = e->format;
    if (e->has_topics) {
      o->topics = (const char *const *)e->topics;
      o->n_topics = e->n_topics;
    }
  }
  if (m) o->timezone = m->timezone;
  /* The same settings give the same fingerprint with or without a manifest. */
  uint64_t h = KFTSP_FNV_INIT;
  h = mix(h, o->source);
  h = mix(h, o->date);
  h = mix(h, o->format);
  h = mix(h, o->timezone);
  for (size_t t = 0; t < o->n_topics; t++) h = mix(h, o->topics[t]);
  return h;
}
