/*
** config.c -- the user's defaults: $XDG_CONFIG_HOME/kfts/config.json (else
** ~/.config/kfts/config.json), read by both programs; their options override it.
**
**   { "db": "~/archive/kfts.db", "limit": 20, "color": "auto"|"always"|"never",
**     "importance_weight": 0.25, "aliases": ["~/my-aliases.json"] }
**
** A missing file is no error; a bad one is, naming the file and the key.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ~/x -> $HOME/x; kftsp_free. */
static char *expand(const char *s) {
  const char *home = getenv("HOME");
  if (s[0] == '~' && (s[1] == '/' || !s[1]) && home) return kftsp_printf("%s%s", home, s + 1);
  return kftsp_strdup(s);
}

char *kfts_config_path(void) {
  const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  if (x && *x) return kftsp_printf("%s/kfts/config.json", x);
  if (home && *home) return kftsp_printf("%s/.config/kfts/config.json", home);
  return NULL;
}

void kfts_config_free(kfts_config *c) {
  if (!c) return;
  kftsp_free(c->path);
  kftsp_free(c->db);
  kfts_strv_free(c->aliases, c->n_aliases);
  memset(c, 0, sizeof *c);
  c->importance_weight = NAN;
  c->color = -1;
}

int kfts_config_load(kfts_config *c, const char *path, kfts_error *err) {
  memset(c, 0, sizeof *c);
  c->importance_weight = NAN;
  c->color = -1;
  c->path = path ? kftsp_strdup(path) : kfts_config_path();
  if (!c->path) return KFTS_OK; /* no home: no config */
  FILE *f = fopen(c->path, "rb");
  if (!f) return KFTS_OK;
  json_error_t je;
  json_t *o = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
  fclose(f);
  if (!o) return kftsp_err(err, KFTS_EUSAGE, c->path, je.line, "invalid JSON: %s", je.text);
  int rc = KFTS_OK;
  const char *key;
  json_t *v;
  if (!json_is_object(o)) rc = kftsp_err(err, KFTS_EUSAGE, c->path, 0, "the config must be a JSON object");
  json_object_foreach(o, key, v) {
    if (rc) break;
    if (!strcmp(key, "db") && json_is_string(v)) {
      if (!(c->db = expand(json_string_value(v)))) rc = KFTS_ENOMEM;
    } else if (!strcmp(key, "limit") && json_is_integer(v) && json_integer_value(v) >= 1 &&
               json_integer_value(v) <= 1000000) {
      c->limit = (size_t)json_integer_value(v);
    } else if (!strcmp(key, "color") && json_is_string(v) &&
               (!strcmp(json_string_value(v), "auto") || !strcmp(json_string_value(v), "always") ||
                !strcmp(json_string_value(v), "never"))) {
      const char *s = json_string_value(v);
      c->color = !strcmp(s, "never") ? 0 : !strcmp(s, "always") ? 1 : 2;
    } else if (!strcmp(key, "importance_weight") && json_is_number(v) && json_number_value(v) >= 0 &&
               json_number_value(v) <= 10) {
      c->importance_weight = json_number_value(v);
    } else if (!strcmp(key, "aliases") && json_is_array(v)) {
      size_t n = json_array_size(v);
      c->aliases = kftsp_malloc((n ? n : 1) * sizeof *c->aliases);
      if (!c->aliases) rc = KFTS_ENOMEM;
      for (size_t i = 0; !rc && i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
          rc = kftsp_err(err, KFTS_EUSAGE, c->path, 0, "\"aliases\" must be a list of file names");
          break;
        }
        if (!(c->aliases[c->n_aliases] = expand(json_string_value(s)))) rc = KFTS_ENOMEM;
        else c->n_aliases++;
      }
    } else {
      rc = kftsp_err(err, KFTS_EUSAGE, c->path, 0,
                     "\"%s\": unknown key or bad value (known: db (a path), limit (1..1000000), color "
                     "(auto, always, never), importance_weight (0..10), aliases (a list of files))",
                     key);
    }
  }
  json_decref(o);
  if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");
  return rc;
}
