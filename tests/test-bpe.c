/* test-bpe.c: the CLIP byte-level BPE tokenizer.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Round trip, as tested here: for any valid text t,
 *   decode (encode (t)) == the normalised pieces of t (NFC, HTML-unescaped
 *   twice, whitespace collapsed, stripped, lower-cased, split by CLIP's
 *   regex), each ordinary piece followed by one space and each special
 *   token by nothing, the whole stripped;
 * hence encode (decode (encode (t))) == encode (t), which is checked for
 * every case of tests/data/bpe_cases.tsv, and the exact strings are checked
 * on hand-written examples.
 */
#include "upm.h"
#include "upm-text-clean.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char *text;
  GArray *ids;
} BpeCase;

static UpmBpe *clip_bpe;
static GPtrArray *cases;

static GArray *
encode_ok (const UpmBpe *bpe, const char *text)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GError *error = NULL;

  g_assert_true (upm_bpe_encode (bpe, text, -1, ids, &error));
  g_assert_no_error (error);
  return ids;
}

static char *
ids_to_string (const GArray *ids)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < ids->len; i++)
    g_string_append_printf (
        s, "%s%d", i ? " " : "", g_array_index (ids, int32_t, i));
  return g_string_free (s, FALSE);
}

static void
assert_encodes (const UpmBpe *bpe, const char *text, const char *expect)
{
  GArray *ids = encode_ok (bpe, text);
  char *got = ids_to_string (ids);

  if (g_strcmp0 (got, expect) != 0)
    g_test_message ("text \"%s\": got [%s], expected [%s]", text, got, expect);
  g_assert_cmpstr (got, ==, expect);
  g_free (got);
  g_array_unref (ids);
}

static char *
decode_array (const UpmBpe *bpe, const GArray *ids)
{
  return upm_bpe_decode (bpe, (const int32_t *)ids->data, ids->len);
}

/* @ids decode to @expect; frees @ids. */
static void
assert_decodes_and_free (const UpmBpe *bpe, GArray *ids, const char *expect)
{
  char *s = decode_array (bpe, ids);

  g_assert_cmpstr (s, ==, expect);
  g_free (s);
  g_array_unref (ids);
}

/* -------------------------------------------------------- case file */

/* JSON string (as written by Python's json.dumps) -> UTF-8; NULL if bad. */
static char *
json_unquote (const char *s, const char **end)
{
  GString *out = g_string_new (NULL);

  if (*s++ != '"')
    goto bad;
  while (*s && *s != '"')
    {
      if (*s != '\\')
        {
          g_string_append_c (out, *s++);
          continue;
        }
      s++;
      switch (*s)
        {
        case '"':
        case '\\':
        case '/':
          g_string_append_c (out, *s++);
          break;
        case 'b':
          g_string_append_c (out, '\b');
          s++;
          break;
        case 'f':
          g_string_append_c (out, '\f');
          s++;
          break;
        case 'n':
          g_string_append_c (out, '\n');
          s++;
          break;
        case 'r':
          g_string_append_c (out, '\r');
          s++;
          break;
        case 't':
          g_string_append_c (out, '\t');
          s++;
          break;
        case 'u':
          {
            gunichar c = 0;
            int k;

            for (k = 1; k <= 4; k++)
              {
                if (!g_ascii_isxdigit (s[k]))
                  goto bad;
                c = c * 16 + g_ascii_xdigit_value (s[k]);
              }
            s += 5;
            if (c >= 0xd800 && c < 0xdc00 && s[0] == '\\' && s[1] == 'u')
              {
                gunichar lo = 0;
                for (k = 2; k <= 5; k++)
                  {
                    if (!g_ascii_isxdigit (s[k]))
                      goto bad;
                    lo = lo * 16 + g_ascii_xdigit_value (s[k]);
                  }
                if (lo < 0xdc00 || lo > 0xdfff)
                  goto bad;
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
              }
            g_string_append_unichar (out, c);
            break;
          }
        default:
          goto bad;
        }
    }
  if (*s != '"')
    goto bad;
  *end = s + 1;
  return g_string_free (out, FALSE);

bad:
  g_string_free (out, TRUE);
  return NULL;
}

static void
bpe_case_free (gpointer p)
{
  BpeCase *c = p;

  g_free (c->text);
  g_array_unref (c->ids);
  g_free (c);
}

static GPtrArray *
load_cases (void)
{
  const char *root = g_getenv ("UPM_SOURCE_ROOT");
  char *path, *contents = NULL;
  char **lines;
  GPtrArray *all = g_ptr_array_new_with_free_func (bpe_case_free);
  GError *error = NULL;
  guint i;

  path = g_build_filename (
      root ? root : ".", "tests", "data", "bpe_cases.tsv", NULL);
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i] != NULL; i++)
    {
      const char *end;
      char **fields;
      BpeCase *c;
      guint k;

      if (lines[i][0] == '\0' || lines[i][0] == '#')
        continue;
      c = g_new0 (BpeCase, 1);
      c->text = json_unquote (lines[i], &end);
      if (c->text == NULL || *end != '\t')
        g_error ("%s:%u: bad line", path, i + 1);
      c->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      fields = g_strsplit (end + 1, " ", -1);
      for (k = 0; fields[k] != NULL; k++)
        {
          gint64 v;
          if (fields[k][0] == '\0')
            continue;
          v = g_ascii_strtoll (fields[k], NULL, 10);
          g_array_append_vals (c->ids, &(int32_t){ (int32_t)v }, 1);
        }
      g_strfreev (fields);
      g_ptr_array_add (all, c);
    }
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
  return all;
}

/* ----------------------------------------------------------------- tests */

static void
test_known_answers (void)
{
  assert_encodes (clip_bpe, "A photo of a Dog. <|endoftext|>",
      "320 1125 539 320 1929 269 49407");
  assert_encodes (clip_bpe, "<|mask|>", "27 347 8306 91 285");
  g_assert_cmpuint (upm_bpe_n_tokens (clip_bpe), ==, 49411);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "<|startoftext|>"), ==, 49406);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "<|endoftext|>"), ==, 49407);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "<|mask|>"), ==, 49408);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "<|gen|>"), ==, 49409);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "<|spe|>"), ==, 49410);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "a</w>"), ==, 320);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "!"), ==, 0);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, "no such symbol"), ==, -1);
  g_assert_cmpint (upm_bpe_token_id (clip_bpe, NULL), ==, -1);
}

static void
test_cases (void)
{
  guint i, failed = 0;

  g_assert_cmpuint (cases->len, >=, 150);
  for (i = 0; i < cases->len; i++)
    {
      BpeCase *c = g_ptr_array_index (cases, i);
      GArray *ids = encode_ok (clip_bpe, c->text);
      char *got = ids_to_string (ids), *want = ids_to_string (c->ids);

      if (strcmp (got, want) != 0)
        {
          g_test_message (
              "case %u \"%s\": got [%s], expected [%s]", i, c->text, got, want);
          failed++;
        }
      g_free (got);
      g_free (want);
      g_array_unref (ids);
    }
  g_assert_cmpuint (failed, ==, 0);
}

static void
test_round_trip (void)
{
  static const struct
  {
    const char *text, *decoded;
  } exact[] = {
    { "A photo of a Dog. <|endoftext|>", "a photo of a dog . <|endoftext|>" },
    { "  Hello,\t\tWORLD!\n", "hello , world !" },
    { "it's &amp;amp; don't", "it 's & don 't" },
    { "<|startoftext|>hi<|endoftext|>", "<|startoftext|>hi <|endoftext|>" },
    { "<|mask|>", "<| mask |>" },
    { "Café 2021 😀", "café 2 0 2 1 😀" },
    { "ΟΔΟΣ", "οδος" },
    { "", "" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (exact); i++)
    {
      GArray *ids = encode_ok (clip_bpe, exact[i].text);
      assert_decodes_and_free (clip_bpe, ids, exact[i].decoded);
    }

  for (i = 0; i < cases->len; i++)
    {
      BpeCase *c = g_ptr_array_index (cases, i);
      char *dec = decode_array (clip_bpe, c->ids);
      GArray *again = encode_ok (clip_bpe, dec);
      char *a = ids_to_string (c->ids), *b = ids_to_string (again);

      if (strcmp (a, b) != 0)
        g_test_message ("case %u \"%s\" -> \"%s\"", i, c->text, dec);
      g_assert_cmpstr (a, ==, b);
      g_free (a);
      g_free (b);
      g_free (dec);
      g_array_unref (again);
    }
}

static void
test_decode_edge (void)
{
  /* "\xe2</w>" is a lone lead byte; out-of-range ids are skipped */
  int32_t ids[4];
  char *s;

  ids[0] = upm_bpe_token_id (clip_bpe, "â</w>"); /* byte 0xe2 */
  g_assert_cmpint (ids[0], >=, 0);
  ids[1] = -5;
  ids[2] = 49411;
  ids[3] = upm_bpe_token_id (clip_bpe, "a</w>");
  s = upm_bpe_decode (clip_bpe, ids, 4);
  g_assert_cmpstr (s, ==, "\xef\xbf\xbd a");
  g_assert_true (g_utf8_validate (s, -1, NULL));
  g_free (s);

  s = upm_bpe_decode (clip_bpe, NULL, 0);
  g_assert_cmpstr (s, ==, "");
  g_free (s);

  /* every single id decodes to valid UTF-8 */
  {
    guint i;
    for (i = 0; i < upm_bpe_n_tokens (clip_bpe); i += 7)
      {
        int32_t id = i;
        s = upm_bpe_decode (clip_bpe, &id, 1);
        g_assert_true (g_utf8_validate (s, -1, NULL));
        g_free (s);
      }
  }
}

static void
test_invalid_utf8 (void)
{
  static const char *const bad[] = {
    "\xff",
    "abc\xc3",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "ok \xe2\x82 no",
    "\xf4\x90\x80\x80",
  };
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GError *error = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (upm_bpe_encode (clip_bpe, bad[i], -1, ids, &error));
      g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      g_assert_cmpuint (ids->len, ==, 0);
    }
  /* embedded NUL with an explicit length */
  g_assert_false (upm_bpe_encode (clip_bpe, "a\0b", 3, ids, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* explicit length stops before the garbage */
  g_assert_true (upm_bpe_encode (clip_bpe, "dog\xff", 3, ids, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 1);
  g_array_unref (ids);
}

static void
test_truncate (void)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t v;

  for (v = 0; v < 10; v++)
    g_array_append_val (ids, v);
  upm_tokens_truncate (ids, 0); /* no limit */
  g_assert_cmpuint (ids->len, ==, 10);
  upm_tokens_truncate (ids, 10);
  g_assert_cmpuint (ids->len, ==, 10);
  upm_tokens_truncate (ids, 4);
  g_assert_cmpuint (ids->len, ==, 4);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 0);
  g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 1);
  g_assert_cmpint (g_array_index (ids, int32_t, 2), ==, 2);
  g_assert_cmpint (g_array_index (ids, int32_t, 3), ==, 9);
  upm_tokens_truncate (ids, 1);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 9);
  g_array_set_size (ids, 0);
  upm_tokens_truncate (ids, 3);
  g_assert_cmpuint (ids->len, ==, 0);
  upm_tokens_truncate (NULL, 3);

  /* a real caption: keeps <|endoftext|> at the end */
  g_array_unref (ids);
  ids = encode_ok (clip_bpe, "a photo of a big brown dog <|endoftext|>");
  upm_tokens_truncate (ids, 5);
  g_assert_cmpuint (ids->len, ==, 5);
  g_assert_cmpint (g_array_index (ids, int32_t, 4), ==, 49407);
  g_array_unref (ids);
}

/* 256 byte symbols, the same with </w>, merges, specials. */
static GPtrArray *
tiny_tokens (const char *const *merges, guint n_merges, gboolean specials)
{
  GPtrArray *t = g_ptr_array_new_with_free_func (g_free);
  gunichar cp[256];
  guint b, n = 0, k = 0, i;

  for (b = 0; b < 256; b++)
    {
      gboolean pr
          = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
      if (pr)
        cp[k++] = b;
    }
  for (b = 0; b < 256; b++)
    {
      gboolean pr
          = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
      if (!pr)
        cp[k++] = 256 + n++;
    }
  for (i = 0; i < 256; i++)
    {
      char u[8] = { 0 };
      g_unichar_to_utf8 (cp[i], u);
      g_ptr_array_add (t, g_strdup (u));
    }
  for (i = 0; i < 256; i++)
    g_ptr_array_add (t, g_strconcat (g_ptr_array_index (t, i), "</w>", NULL));
  for (i = 0; i < n_merges; i++)
    {
      char **lr = g_strsplit (merges[i], " ", 2);
      g_ptr_array_add (t, g_strconcat (lr[0], lr[1], NULL));
      g_strfreev (lr);
    }
  if (specials)
    {
      g_ptr_array_add (t, g_strdup ("<|startoftext|>"));
      g_ptr_array_add (t, g_strdup ("<|endoftext|>"));
      g_ptr_array_add (t, g_strdup ("<|mask|>"));
      g_ptr_array_add (t, g_strdup ("<|gen|>"));
      g_ptr_array_add (t, g_strdup ("<|spe|>"));
    }
  g_ptr_array_add (t, NULL);
  return t;
}

static void
test_tiny_vocab (void)
{
  static const char *const merges[] = {
    "h e",
    "l l",
    "ll o</w>",
    "he llo</w>",
    "a b",
    "ab a",
  };
  GPtrArray *t = tiny_tokens (merges, G_N_ELEMENTS (merges), TRUE);
  guint n = t->len - 1;
  GError *error = NULL;
  UpmBpe *bpe;
  GArray *ids;

  g_assert_cmpuint (n, ==, 512 + 6 + 5);
  bpe = upm_bpe_new (
      (const char *const *)t->pdata, n, merges, G_N_ELEMENTS (merges), &error);
  g_assert_no_error (error);
  g_assert_nonnull (bpe);
  g_assert_cmpuint (upm_bpe_n_tokens (bpe), ==, n);
  g_assert_cmpint (upm_bpe_token_id (bpe, "hello</w>"), ==, 512 + 3);
  g_assert_cmpint (upm_bpe_token_id (bpe, "<|endoftext|>"), ==, 512 + 6 + 1);

  /* hello -> [hello</w>]; "helo" -> he l o</w>; "abab" -> (a b) twice,
   * then (ab a): aba b</w> */
  assert_encodes (bpe, "Hello <|endoftext|>", "515 519");
  ids = encode_ok (bpe, "helo abab");
  g_assert_cmpuint (ids->len, ==, 5);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 512);
  g_assert_cmpint (g_array_index (ids, int32_t, 3), ==, 517);
  assert_decodes_and_free (bpe, ids, "helo abab");
  upm_bpe_free (bpe);

  /* no merges at all, no specials: specials are then plain text */
  g_ptr_array_unref (t);
  t = tiny_tokens (NULL, 0, FALSE);
  bpe = upm_bpe_new ((const char *const *)t->pdata, 512, NULL, 0, &error);
  g_assert_no_error (error);
  ids = encode_ok (bpe, "ab <|spe|>");
  g_assert_cmpuint (ids->len, ==, 2 + 7);
  assert_decodes_and_free (bpe, ids, "ab <|spe|>");
  upm_bpe_free (bpe);
  g_ptr_array_unref (t);
}

static void
test_bad_vocab (void)
{
  static const char *const good[] = { "h e" };
  static const char *const bad_merges[][1] = {
    { "he" },
    { "h  e" },
    { " he" },
    { "h e " },
    { "q z" },
    { "h zz" },
  };
  GPtrArray *t = tiny_tokens (good, 1, TRUE);
  guint n = t->len - 1, i;
  GError *error = NULL;
  const char *saved;

  for (i = 0; i < G_N_ELEMENTS (bad_merges); i++)
    {
      g_assert_null (upm_bpe_new (
          (const char *const *)t->pdata, n, bad_merges[i], 1, &error));
      g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
      g_test_message ("rejected: %s", error->message);
      g_clear_error (&error);
    }
  /* "q z": both symbols, but "qz" is not */
  {
    static const char *const qz[] = { "q z" };
    g_assert_null (
        upm_bpe_new ((const char *const *)t->pdata, n, qz, 1, &error));
    g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  /* missing byte symbols */
  g_assert_null (
      upm_bpe_new ((const char *const *)t->pdata, 300, NULL, 0, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* empty and invalid UTF-8 tokens, NULL lists */
  saved = g_ptr_array_index (t, 5);
  t->pdata[5] = (gpointer) "";
  g_assert_null (
      upm_bpe_new ((const char *const *)t->pdata, n, good, 1, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  t->pdata[5] = (gpointer) "\xff";
  g_assert_null (
      upm_bpe_new ((const char *const *)t->pdata, n, good, 1, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  t->pdata[5] = (gpointer)saved;
  g_assert_null (upm_bpe_new (NULL, 10, NULL, 0, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_ptr_array_unref (t);

  /* files */
  g_assert_null (
      upm_bpe_new_from_clip_file ("/nonexistent/vocab.txt.gz", &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_IO);
  g_clear_error (&error);
  {
    char *path = NULL;
    int fd = g_file_open_tmp ("upm-bpe-XXXXXX", &path, &error);
    g_assert_no_error (error);
    close (fd);
    g_file_set_contents (path, "#version: 0.2\nh e\n", -1, &error);
    g_assert_no_error (error);
    g_assert_null (upm_bpe_new_from_clip_file (path, &error));
    g_assert_error (error, UPM_ERROR, UPM_ERROR_FORMAT);
    g_clear_error (&error);
    /* gzip magic, garbage after it */
    g_file_set_contents (path, "\x1f\x8bxxxxxxxxxxxxxxxxxx", 20, &error);
    g_assert_no_error (error);
    g_assert_null (upm_bpe_new_from_clip_file (path, &error));
    g_assert_error (error, UPM_ERROR, UPM_ERROR_FORMAT);
    g_clear_error (&error);
    g_unlink (path);
    g_free (path);
  }
}

static void
test_plain_text_vocab (void)
{
  const char *gz = g_getenv ("UPM_CLIP_VOCAB");
  GError *error = NULL;
  char *path = NULL, *cmd;
  int fd, status = 0;
  UpmBpe *bpe;

  if (!g_find_program_in_path ("gzip"))
    {
      g_test_skip ("no gzip");
      return;
    }
  fd = g_file_open_tmp ("upm-bpe-XXXXXX.txt", &path, &error);
  g_assert_no_error (error);
  close (fd);
  cmd = g_strdup_printf ("sh -c 'gzip -dc \"%s\" > \"%s\"'", gz, path);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
  g_free (cmd);
  bpe = upm_bpe_new_from_clip_file (path, &error);
  g_assert_no_error (error);
  assert_encodes (bpe, "A photo of a Dog. <|endoftext|>",
      "320 1125 539 320 1929 269 49407");
  upm_bpe_free (bpe);
  g_unlink (path);
  g_free (path);
}

static gpointer
thread_encode (gpointer data)
{
  guint i, k, off = GPOINTER_TO_UINT (data);

  for (k = 0; k < 20; k++)
    {
      for (i = 0; i < cases->len; i++)
        {
          BpeCase *c = g_ptr_array_index (cases, (i + off) % cases->len);
          GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
          if (!upm_bpe_encode (clip_bpe, c->text, -1, ids, NULL)
              || ids->len != c->ids->len
              || (ids->len && memcmp (ids->data, c->ids->data, ids->len * 4)))
            return GINT_TO_POINTER (1);
          g_array_unref (ids);
        }
    }
  return NULL;
}

static void
test_threads (void)
{
  GThread *th[4];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (th); i++)
    th[i] = g_thread_new ("bpe", thread_encode, GUINT_TO_POINTER (i * 37));
  for (i = 0; i < G_N_ELEMENTS (th); i++)
    g_assert_null (g_thread_join (th[i]));
}

static void
test_speed (void)
{
  const char *path = g_getenv ("UPM_CLIP_VOCAB");
  GError *error = NULL;
  gint64 t0, t1;
  UpmBpe *bpe;
  GString *text = g_string_new (NULL);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  guint i;

  t0 = g_get_monotonic_time ();
  bpe = upm_bpe_new_from_clip_file (path, &error);
  t1 = g_get_monotonic_time ();
  g_assert_no_error (error);
  g_test_message ("vocabulary build: %.1f ms", (t1 - t0) / 1000.0);
  /* generous bound for slow CI machines; typically ~35 ms */
  g_assert_cmpint (t1 - t0, <, 2 * G_USEC_PER_SEC);

  for (i = 0; i < cases->len; i++)
    {
      BpeCase *c = g_ptr_array_index (cases, i);
      g_string_append (text, c->text);
      g_string_append_c (text, ' ');
    }
  t0 = g_get_monotonic_time ();
  for (i = 0; i < 10; i++)
    {
      g_array_set_size (ids, 0);
      g_assert_true (upm_bpe_encode (bpe, text->str, -1, ids, NULL));
    }
  t1 = g_get_monotonic_time ();
  g_test_message ("encode: %.2f MB/s (%u ids per pass)",
      10.0 * text->len / MAX (t1 - t0, 1), ids->len);

  /* one 200,000-letter word: O(n log n), not quadratic */
  g_string_truncate (text, 0);
  for (i = 0; i < 200000; i++)
    g_string_append_c (text, 'a' + (char)((i * 2654435761u >> 13) % 26));
  t0 = g_get_monotonic_time ();
  g_array_set_size (ids, 0);
  g_assert_true (upm_bpe_encode (bpe, text->str, -1, ids, NULL));
  t1 = g_get_monotonic_time ();
  g_test_message (
      "200k-letter word: %.1f ms, %u ids", (t1 - t0) / 1000.0, ids->len);
  g_assert_cmpint (t1 - t0, <, 5 * G_USEC_PER_SEC);

  g_array_unref (ids);
  g_string_free (text, TRUE);
  upm_bpe_free (bpe);
}

/* ftfy.fix_text's documented examples (its README and docstrings; the
 * lower-case is CLIP's), then the cases of docs/text-cleaning.md. */
static void
test_text_fix (void)
{
  static const char *const cases[][2] = {
    { "\u201chere\u2019s a test\u201d", "\"here's a test\"" },
    { "\ufb02u\ufb03e\ufb06", "fluffiest" },
    { "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33",
        "loud noises" },
    { "\uff35\uff80\uff70\uff9d", "u\u30bf\u30fc\u30f3" },
    { "P&EACUTE;REZ", "p\u00e9rez" },
    { "BUNDESSTRA&SZLIG;E", "bundesstrasse" },
    { "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "\u00f1 \u00f1 \u00f1 &ntilde;" },
    { "\x1b[36;44mI'm blue, da ba dee da ba doo...\x1b[0m",
        "i'm blue, da ba dee da ba doo..." },
    { "\u00e2\u0153\u201d No problems", "\u2714 no problems" },
    { "The Mona Lisa doesn\u00c3\u0192\u00c2\u00a2\u00c3\u00a2\u00e2\u20ac"
      "\u0161\u00c2\u00ac\u00c3\u00a2\u00e2\u20ac\u017e\u00c2\u00a2t have "
      "eyebrows.",
        "the mona lisa doesn't have eyebrows." },
    { "l\u2019humanit\u00c3\u00a9", "l'humanit\u00e9" },
    { "\u00c3\u00a0 perturber la r\u00c3\u00a9flexion",
        "\u00e0 perturber la r\u00e9flexion" },
    /* left alone by ftfy (it would decode to "MARQU\u0245") */
    { "IL Y MARQU\u00c9\u2026", "il y marqu\u00e9\u2026" },
    /* the brief's examples, embedded mojibake, Cyrillic mojibake */
    { "caf\u00c3\u00a9", "caf\u00e9" },
    { "it\u00e2\u20ac\u2122s", "it's" },
    { "\u732b caf\u00c3\u00a9 and caf\u00e9",
        "\u732b caf\u00e9 and caf\u00e9" },
    { "\u00d0\u00bf\u00d1\u20ac\u00d0\u00b8", "\u043f\u0440\u0438" },
    /* C1 controls as Windows-1252 (0x81 has none), control characters */
    { "a\xc2\x80"
      "b \xc2\x93q\xc2\x94 \xc2\x81",
        "a\u20acb \"q\" \xc2\x81" },
    { "bell\x07 del\x7f bom\ufeffx \u206aarabic\ufffcobj",
        "bell del bomx arabicobj" },
    /* ';'-terminated entities repeatedly, except from a line with '<' on */
    { "&amp;amp;amp;lt;", "<" },
    { "<b>&amp;amp;amp;</b>", "<b>&amp;</b>" },
    { "one &amp;amp;amp;\nline <two> &amp;amp;amp;", "one & line <two> &amp;" },
    { "&#x41;&#X263a;&#65a;", "a\u263aaa;" },
    { "\u0132sselmeer \u01c4 \ufb01nal", "ijsselmeer d\u017e final" },
  };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *got = upm_text_clean (cases[i][0], -1, &error);
      g_assert_no_error (error);
      if (g_strcmp0 (got, cases[i][1]) != 0)
        g_test_message ("case %u: got \"%s\"", i, got);
      g_assert_cmpstr (got, ==, cases[i][1]);
      g_free (got);
    }
  /* ftfy.fix_text keeps case and line breaks; it is idempotent */
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *once = upm_text_fix (cases[i][0]);
      char *twice = upm_text_fix (once);
      g_assert_cmpstr (once, ==, twice);
      g_free (once);
      g_free (twice);
    }
  {
    char *kept = upm_text_fix ("Caf\u00c3\u00a9\r\nNew");
    g_assert_cmpstr (kept, ==, "Caf\u00e9\nNew");
    g_free (kept);
  }
}

int
main (int argc, char **argv)
{
  const char *vocab = g_getenv ("UPM_CLIP_VOCAB");
  GError *error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  if (vocab == NULL)
    {
      g_test_skip ("UPM_CLIP_VOCAB not set");
      return g_test_run ();
    }
  clip_bpe = upm_bpe_new_from_clip_file (vocab, &error);
  g_assert_no_error (error);
  cases = load_cases ();

  g_test_add_func ("/bpe/known-answers", test_known_answers);
  g_test_add_func ("/bpe/cases", test_cases);
  g_test_add_func ("/bpe/text-fix", test_text_fix);
  g_test_add_func ("/bpe/round-trip", test_round_trip);
  g_test_add_func ("/bpe/decode-edge", test_decode_edge);
  g_test_add_func ("/bpe/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/bpe/truncate", test_truncate);
  g_test_add_func ("/bpe/tiny-vocab", test_tiny_vocab);
  g_test_add_func ("/bpe/bad-vocab", test_bad_vocab);
  g_test_add_func ("/bpe/plain-text-vocab", test_plain_text_vocab);
  g_test_add_func ("/bpe/threads", test_threads);
  g_test_add_func ("/bpe/speed", test_speed);

  ret = g_test_run ();
  g_ptr_array_unref (cases);
  upm_bpe_free (clip_bpe);
  return ret;
}
