/* upm-bpe.c: CLIP byte-level BPE tokenizer (model-spec §2.1).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This follows CLIP's / Uni-Perceiver's tokenization_clip.py:
 *
 *   text = ftfy.fix_text (text)
 *   text = html.unescape (html.unescape (text)).strip ()
 *   text = re.sub (r'\s+', ' ', text).strip ().lower ()
 *   for piece in re.findall (PAT, text): BPE (byte_encode (piece))
 *
 * with PAT = <\|startoftext\|>|<\|endoftext\|>|<\|gen\|>|<\|spe\|>|
 *            's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * (Python `regex` module semantics; <|mask|> is *not* atomic).
 *
 * Deviations from the Python implementation, all documented here:
 *
 * - ftfy.fix_text is not available.  We apply no mojibake repair; for
 *   ordinary, correctly encoded text fix_text is the identity apart from
 *   its final NFC normalisation, which we do apply (g_utf8_normalize).
 *   Texts that fix_text would change are tokenised differently: mojibake,
 *   curly quotes (uncurl_quotes), Latin ligatures, full-width characters,
 *   control characters, "\r\n" line breaks, and HTML entities nested three
 *   or more levels deep (fix_text unescapes once more when the text has
 *   no '<').
 * - HTML unescaping is Python's html.unescape exactly: the full HTML5
 *   table of named references (upm-html-entities.c, generated from Python's
 *   html.entities.html5), the longest-legacy-prefix rule, numeric
 *   references with ';' optional, Windows-1252 fix-ups, dropped code points.
 * - Embedded NUL bytes count as invalid input (C strings).
 * - Character classes come from GLib's Unicode tables (g_unichar_type),
 *   which may be a newer Unicode version than Python's.
 * - Lower-casing uses g_unichar_tolower plus Python's two non-simple rules
 *   (U+0130 -> "i\u0307" and the Final_Sigma context), so it does not depend
 *   on the process locale the way g_utf8_strdown does.
 * - Custom vocabularies without a special token BPE-encode its text.
 */
#include "upm-private.h"
#include "upm-html-entities.h"

#include <gio/gio.h>
#include <string.h>

#define UPM_BPE_CLIP_N_MERGES 48894
#define UPM_BPE_EOW "</w>"
#define UPM_BPE_EOW_LEN 4
#define UPM_BPE_CACHE_MAX 16384
#define UPM_BPE_MAX_FILE (256u << 20)

/* html._invalid_charrefs: 0x80..0x9f are mapped as Windows-1252. */
static const gunichar html_cp1252[32] = {
  0x20ac,
  0x81,
  0x201a,
  0x0192,
  0x201e,
  0x2026,
  0x2020,
  0x2021,
  0x02c6,
  0x2030,
  0x0160,
  0x2039,
  0x0152,
  0x8d,
  0x017d,
  0x8f,
  0x90,
  0x2018,
  0x2019,
  0x201c,
  0x201d,
  0x2022,
  0x2013,
  0x2014,
  0x02dc,
  0x2122,
  0x0161,
  0x203a,
  0x0153,
  0x9d,
  0x017e,
  0x0178,
};

static const char *const special_tokens[] = {
  "<|startoftext|>",
  "<|endoftext|>",
  "<|mask|>",
  "<|gen|>",
  "<|spe|>",
};

/* The specials that CLIP's split regex keeps whole, in regex order. */
static const char *const atomic_specials[] = {
  "<|startoftext|>",
  "<|endoftext|>",
  "<|gen|>",
  "<|spe|>",
};

/* Open-addressing map (left id, right id) -> (rank, merged id). */
typedef struct
{
  guint64 key;
  guint32 rank;
  gint32 result;
} UpmMergeSlot;

#define UPM_MERGE_EMPTY G_MAXUINT64

struct _UpmBpe
{
  guint n_tokens;
  char **symbols;          /* id -> symbol (byte-unicode form) */
  GHashTable *ids;         /* symbol -> id + 1 (later duplicate wins) */
  gint32 byte_id[256];     /* byte -> symbol id */
  gint32 byte_eow_id[256]; /* byte -> symbol + "</w>" id */
  gint32 special_id[G_N_ELEMENTS (atomic_specials)]; /* or -1 */
  UpmMergeSlot *merges;
  guint32 merge_mask;
  guint n_merges;
  gint16 byte_decoder[512]; /* code point -> byte or -1 */

  GMutex cache_lock; /* guards cache: piece -> ids */
  GHashTable *cache;
};

/* ---------------------------------------------------------- byte encoder */

/* CLIP's bytes_to_unicode (): printable Latin-1 bytes map to themselves,
 * the others to U+0100 + n in byte order.  Order of the result = order of
 * the first 256 vocabulary entries. */
static void
bytes_to_unicode (guint8 order[256], gunichar cp[256])
{
  guint n = 0, k = 0, b;
  gboolean printable[256];

  for (b = 0; b < 256; b++)
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac)
                   || (b >= 0xae && b <= 0xff);
  for (b = 0; b < 256; b++)
    {
      if (printable[b])
        {
          order[k] = b;
          cp[k++] = b;
        }
    }
  for (b = 0; b < 256; b++)
    {
      if (!printable[b])
        {
          order[k] = b;
          cp[k++] = 256 + n++;
        }
    }
}

/* ------------------------------------------------------- character classes */

/* Python `regex` \s (Unicode White_Space). */
static gboolean
is_regex_space (gunichar c)
{
  if (c <= 0x20)
    return c == 0x20 || (c >= 0x09 && c <= 0x0d);
  return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
         || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
         || c == 0x3000;
}

/* Python str.isspace (used by str.strip). */
static gboolean
is_py_space (gunichar c)
{
  return is_regex_space (c) || (c >= 0x1c && c <= 0x1f);
}

static gboolean
is_letter (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
is_number (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Other_Lowercase / Other_Uppercase: cased but not Lu/Ll/Lt. */
static const gunichar other_cased[][2] = {
  { 0xaa, 0xaa },
  { 0xba, 0xba },
  { 0x2b0, 0x2b8 },
  { 0x2c0, 0x2c1 },
  { 0x2e0, 0x2e4 },
  { 0x345, 0x345 },
  { 0x37a, 0x37a },
  { 0x1d2c, 0x1d6a },
  { 0x1d78, 0x1d78 },
  { 0x1d9b, 0x1dbf },
  { 0x2071, 0x2071 },
  { 0x207f, 0x207f },
  { 0x2090, 0x209c },
  { 0x2160, 0x217f },
  { 0x24b6, 0x24e9 },
  { 0x2c7c, 0x2c7d },
  { 0xa69c, 0xa69d },
  { 0xa770, 0xa770 },
  { 0xa7f8, 0xa7f9 },
  { 0xab5c, 0xab5f },
  { 0x10780, 0x10780 },
  { 0x10783, 0x10785 },
  { 0x10787, 0x107b0 },
  { 0x107b2, 0x107ba },
  { 0x1df25, 0x1df2a },
  { 0x1f130, 0x1f149 },
  { 0x1f150, 0x1f169 },
  { 0x1f170, 0x1f189 },
};

/* Unicode "Cased". */
static gboolean
is_cased (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);
  guint i;

  if (t == G_UNICODE_UPPERCASE_LETTER || t == G_UNICODE_LOWERCASE_LETTER
      || t == G_UNICODE_TITLECASE_LETTER)
    return TRUE;
  for (i = 0; i < G_N_ELEMENTS (other_cased); i++)
    if (c >= other_cased[i][0] && c <= other_cased[i][1])
      return TRUE;
  return FALSE;
}

/* Unicode "Case_Ignorable". */
static gboolean
is_case_ignorable (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
      return TRUE;
    default:
      break;
    }
  /* Word_Break = MidLetter, MidNumLet or Single_Quote */
  return c == '\'' || c == '.' || c == ':' || c == 0xb7 || c == 0x387
         || c == 0x55f || c == 0x5f4 || c == 0x2018 || c == 0x2019
         || c == 0x2024 || c == 0x2027 || c == 0xfe13 || c == 0xfe52
         || c == 0xfe55 || c == 0xff07 || c == 0xff0e || c == 0xff1a;
}

/* ------------------------------------------------------------ clean-up */

static void
append_unichar (GString *s, gunichar c)
{
  g_string_append_unichar (s, c);
}

static const UpmHtmlEntity *
find_entity (const char *name, gsize len)
{
  gsize lo = 0, hi = upm_n_html_entities;

  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;
      const char *n = upm_html_entities[mid].name;
      int cmp = strncmp (n, name, len);

      if (cmp == 0 && n[len] != '\0')
        cmp = 1;
      if (cmp == 0)
        return &upm_html_entities[mid];
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

static gboolean
is_html_name_char (gunichar c)
{
  return !(c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<'
           || c == '&' || c == '#' || c == ';');
}

static void
append_charref (GString *out, guint64 num)
{
  if (num == 0)
    {
      append_unichar (out, 0xfffd);
    }
  else if (num == 0x0d)
    {
      g_string_append_c (out, '\r');
    }
  else if (num >= 0x80 && num <= 0x9f)
    {
      append_unichar (out, html_cp1252[num - 0x80]);
    }
  else if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff)
    {
      append_unichar (out, 0xfffd);
    }
  else if ((num >= 0x1 && num <= 0x8) || num == 0xb
           || (num >= 0xe && num <= 0x1f) || num == 0x7f
           || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) == 0xfffe)
    {
      /* dropped by html.unescape */
    }
  else
    {
      append_unichar (out, (gunichar)num);
    }
}

/* Python's html.unescape () on valid UTF-8. */
static char *
html_unescape (const char *s)
{
  GString *out;
  const char *p = s;

  if (strchr (s, '&') == NULL)
    return g_strdup (s);

  out = g_string_sized_new (strlen (s));
  while (*p)
    {
      const char *amp = strchr (p, '&');
      const char *q;

      if (amp == NULL)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, amp - p);
      q = amp + 1;

      if (*q == '#')
        {
          guint64 num = 0;
          gboolean hex
              = (q[1] == 'x' || q[1] == 'X') && g_ascii_isxdigit (q[2]);
          const char *d;

          if (g_ascii_isdigit (q[1]))
            {
              for (d = q + 1; g_ascii_isdigit (*d); d++)
                num = MIN (num * 10 + (guint64)(*d - '0'), (guint64)0x110000);
            }
          else if (hex)
            {
              for (d = q + 2; g_ascii_isxdigit (*d); d++)
                num = MIN (num * 16 + (guint64)g_ascii_xdigit_value (*d),
                    (guint64)0x110000);
            }
          else
            {
              g_string_append_c (out, '&');
              p = q;
              continue;
            }
          if (*d == ';')
            d++;
          append_charref (out, num);
          p = d;
        }
      else
        {
          const char *e = q, *end;
          const UpmHtmlEntity *ent;
          guint n = 0;

          while (*e && n < 32 && is_html_name_char (g_utf8_get_char (e)))
            {
              e = g_utf8_next_char (e);
              n++;
            }
          if (n == 0)
            {
              g_string_append_c (out, '&');
              p = q;
              continue;
            }
          end = e;
          if (*end == ';')
            end++;
          ent = find_entity (q, end - q);
          if (ent != NULL)
            {
              g_string_append (out, ent->value);
            }
          else
            {
              /* longest name that is a proper prefix (>= 2 chars; only the
               * legacy names, without ';', can be) */
              const UpmHtmlEntity *best = NULL;
              gsize best_len = 0, total = end - q, l;

              for (l = total - 1; l >= 2 && best == NULL; l--)
                {
                  best = find_entity (q, l);
                  best_len = l;
                }
              if (best != NULL)
                {
                  g_string_append (out, best->value);
                  g_string_append_len (out, q + best_len, total - best_len);
                }
              else
                {
                  g_string_append_c (out, '&');
                  g_string_append_len (out, q, total);
                }
            }
          p = end;
        }
    }
  return g_string_free (out, FALSE);
}

/* re.sub (r'\s+', ' ', s).strip () after s.strip (), then .lower ().
 * (The first strip also removes U+001C..U+001F, as Python's does.) */
static char *
clean_and_lower (const char *s)
{
  GString *out = g_string_sized_new (strlen (s));
  const char *p = s, *end = s + strlen (s), *q;
  gboolean pending_space = FALSE;

  /* basic_clean's strip () */
  while (p < end && is_py_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  while (end > p)
    {
      q = g_utf8_find_prev_char (p, end);
      if (q == NULL || !is_py_space (g_utf8_get_char (q)))
        break;
      end = q;
    }

  for (; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_regex_space (c))
        {
          pending_space = TRUE;
          continue;
        }
      if (pending_space && out->len > 0)
        g_string_append_c (out, ' ');
      pending_space = FALSE;

      if (c == 0x130)
        {
          g_string_append (out, "i\xcc\x87");
        }
      else if (c == 0x3a3)
        {
          /* Final_Sigma: cased (ignorable)* SIGMA !((ignorable)* cased) */
          const char *r = p;
          gboolean final = FALSE;

          while ((r = g_utf8_find_prev_char (s, r)) != NULL)
            {
              gunichar b = g_utf8_get_char (r);
              if (!is_case_ignorable (b))
                {
                  final = is_cased (b);
                  break;
                }
            }
          if (final)
            {
              for (r = g_utf8_next_char (p); *r; r = g_utf8_next_char (r))
                {
                  gunichar a = g_utf8_get_char (r);
                  if (!is_case_ignorable (a))
                    {
                      final = !is_cased (a);
                      break;
                    }
                }
            }
          append_unichar (out, final ? 0x3c2 : 0x3c3);
        }
      else if (c >= 0x2160 && c <= 0x216f)
        {
          /* Roman numerals (Nl) and circled letters (So) have lower-case
           * mappings that g_unichar_tolower ignores (not Lu/Lt) */
          append_unichar (out, c + 0x10);
        }
      else if (c >= 0x24b6 && c <= 0x24cf)
        {
          append_unichar (out, c + 0x1a);
        }
      else
        {
          append_unichar (out, g_unichar_tolower (c));
        }
    }
  /* the second strip () removes what is left only of \s, nothing to do:
   * trailing runs were never written */
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------- the table */

static guint32
merge_hash (guint64 key)
{
  key ^= key >> 33;
  key *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  key ^= key >> 33;
  return (guint32)key;
}

static const UpmMergeSlot *
merge_lookup (const UpmBpe *bpe, gint32 left, gint32 right)
{
  guint64 key = ((guint64)(guint32)left << 32) | (guint32)right;
  guint32 i = merge_hash (key) & bpe->merge_mask;

  for (;; i = (i + 1) & bpe->merge_mask)
    {
      const UpmMergeSlot *slot = &bpe->merges[i];
      if (slot->key == key)
        return slot;
      if (slot->key == UPM_MERGE_EMPTY)
        return NULL;
    }
}

static gint32
symbol_id (const UpmBpe *bpe, const char *symbol)
{
  gpointer v;

  if (bpe == NULL || symbol == NULL)
    return -1;
  v = g_hash_table_lookup (bpe->ids, symbol);
  return v ? GPOINTER_TO_INT (v) - 1 : -1;
}

static gint32
symbol_id_len (const UpmBpe *bpe, const char *symbol, gsize len, GString *tmp)
{
  g_string_truncate (tmp, 0);
  g_string_append_len (tmp, symbol, len);
  return symbol_id (bpe, tmp->str);
}

static void
free_ids (gpointer p)
{
  g_array_unref (p);
}

UpmBpe *
upm_bpe_new (const char *const *tokens, guint n_tokens,
    const char *const *merges, guint n_merges, GError **error)
{
  UpmBpe *bpe;
  guint8 order[256];
  gunichar cp[256];
  GString *tmp;
  guint i, cap;

  if ((tokens == NULL && n_tokens > 0) || (merges == NULL && n_merges > 0))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: NULL token or merge list");
      return NULL;
    }
  if (n_tokens > (guint)G_MAXINT32 - 1 || n_merges > G_MAXUINT32 / 4)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: too many tokens or merges");
      return NULL;
    }

  bpe = g_new0 (UpmBpe, 1);
  g_mutex_init (&bpe->cache_lock);
  bpe->cache
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_ids);
  bpe->n_tokens = n_tokens;
  bpe->symbols = g_new0 (char *, n_tokens + 1);
  bpe->ids = g_hash_table_new (g_str_hash, g_str_equal);
  tmp = g_string_new (NULL);

  for (i = 0; i < n_tokens; i++)
    {
      if (tokens[i] == NULL || tokens[i][0] == '\0'
          || !g_utf8_validate (tokens[i], -1, NULL))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: token %u is empty or not valid UTF-8", i);
          goto fail;
        }
      bpe->symbols[i] = g_strdup (tokens[i]);
      g_hash_table_insert (bpe->ids, bpe->symbols[i], GINT_TO_POINTER (i + 1));
    }

  /* every byte must have a symbol, alone and word-final */
  bytes_to_unicode (order, cp);
  memset (bpe->byte_decoder, 0xff, sizeof (bpe->byte_decoder));
  for (i = 0; i < 256; i++)
    {
      guint8 b = order[i];
      bpe->byte_decoder[cp[i]] = b;
      g_string_truncate (tmp, 0);
      g_string_append_unichar (tmp, cp[i]);
      bpe->byte_id[b] = symbol_id (bpe, tmp->str);
      g_string_append (tmp, UPM_BPE_EOW);
      bpe->byte_eow_id[b] = symbol_id (bpe, tmp->str);
      if (bpe->byte_id[b] < 0 || bpe->byte_eow_id[b] < 0)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: no symbol for byte 0x%02x (\"%s\")", b,
              tmp->str);
          goto fail;
        }
    }
  for (i = 0; i < G_N_ELEMENTS (atomic_specials); i++)
    bpe->special_id[i] = symbol_id (bpe, atomic_specials[i]);

  cap = 16;
  while (cap < 2 * (n_merges + 1))
    cap <<= 1;
  bpe->merges = g_new (UpmMergeSlot, cap);
  bpe->merge_mask = cap - 1;
  for (i = 0; i < cap; i++)
    bpe->merges[i].key = UPM_MERGE_EMPTY;

  for (i = 0; i < n_merges; i++)
    {
      const char *m = merges[i], *sp;
      gint32 l, r, res;
      guint64 key;
      guint32 h;

      if (m == NULL || (sp = strchr (m, ' ')) == NULL || sp == m
          || sp[1] == '\0' || strchr (sp + 1, ' ') != NULL)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: merge %u is not \"left right\"", i);
          goto fail;
        }
      l = symbol_id_len (bpe, m, sp - m, tmp);
      r = symbol_id (bpe, sp + 1);
      g_string_truncate (tmp, 0);
      g_string_append_len (tmp, m, sp - m);
      g_string_append (tmp, sp + 1);
      res = symbol_id (bpe, tmp->str);
      if (l < 0 || r < 0 || res < 0)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: merge %u (\"%s\"): %s is not a symbol", i,
              g_utf8_validate (m, -1, NULL) ? m : "?",
              l < 0   ? "left part"
              : r < 0 ? "right part"
                      : "result");
          goto fail;
        }
      key = ((guint64)(guint32)l << 32) | (guint32)r;
      for (h = merge_hash (key) & bpe->merge_mask;
           bpe->merges[h].key != UPM_MERGE_EMPTY && bpe->merges[h].key != key;
           h = (h + 1) & bpe->merge_mask)
        ;
      /* a repeated merge takes its last rank, as Python's dict does */
      if (bpe->merges[h].key == UPM_MERGE_EMPTY)
        bpe->n_merges++;
      bpe->merges[h].key = key;
      bpe->merges[h].rank = i;
      bpe->merges[h].result = res;
    }

  g_string_free (tmp, TRUE);
  return bpe;

fail:
  g_string_free (tmp, TRUE);
  upm_bpe_free (bpe);
  return NULL;
}

void
upm_bpe_free (UpmBpe *bpe)
{
  guint i;

  if (bpe == NULL)
    return;
  if (bpe->ids)
    g_hash_table_destroy (bpe->ids);
  for (i = 0; i < bpe->n_tokens; i++)
    g_free (bpe->symbols[i]);
  g_free (bpe->symbols);
  g_free (bpe->merges);
  g_hash_table_destroy (bpe->cache);
  g_mutex_clear (&bpe->cache_lock);
  g_free (bpe);
}

guint
upm_bpe_n_tokens (const UpmBpe *bpe)
{
  return bpe ? bpe->n_tokens : 0;
}

int32_t
upm_bpe_token_id (const UpmBpe *bpe, const char *symbol)
{
  return symbol_id (bpe, symbol);
}

/* ------------------------------------------------------------- CLIP file */

static GBytes *
gunzip (const guint8 *data, gsize len, GError **error)
{
  GZlibDecompressor *dec
      = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  GByteArray *out = g_byte_array_new ();
  gsize in_pos = 0;
  guint8 buf[65536];

  for (;;)
    {
      gsize rd = 0, wr = 0;
      GConverterResult res;
      GError *err = NULL;

      res = g_converter_convert (G_CONVERTER (dec), data + in_pos, len - in_pos,
          buf, sizeof (buf), G_CONVERTER_INPUT_AT_END, &rd, &wr, &err);
      if (res == G_CONVERTER_ERROR)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT, "bad gzip data: %s",
              err->message);
          g_error_free (err);
          goto fail;
        }
      in_pos += rd;
      g_byte_array_append (out, buf, wr);
      if (out->len > UPM_BPE_MAX_FILE)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "gzip data expands beyond %u bytes", UPM_BPE_MAX_FILE);
          goto fail;
        }
      if (res == G_CONVERTER_FINISHED)
        break;
      if (rd == 0 && wr == 0)
        {
          g_set_error (
              error, UPM_ERROR, UPM_ERROR_FORMAT, "truncated gzip data");
          goto fail;
        }
    }
  g_object_unref (dec);
  return g_byte_array_free_to_bytes (out);

fail:
  g_object_unref (dec);
  g_byte_array_unref (out);
  return NULL;
}

UpmBpe *
upm_bpe_new_from_clip_file (const char *path, GError **error)
{
  char *raw = NULL, *text, *line, *nl;
  gsize raw_len = 0, text_len;
  GBytes *unz = NULL;
  const char **tokens = NULL, **merges = NULL;
  char **owned = NULL;
  guint8 order[256];
  gunichar cp[256];
  guint i, n_tokens, n_merges = 0;
  GError *err = NULL;
  UpmBpe *bpe = NULL;

  if (path == NULL)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT, "no vocabulary path");
      return NULL;
    }
  if (!g_file_get_contents (path, &raw, &raw_len, &err))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s", err->message);
      g_error_free (err);
      return NULL;
    }
  if (raw_len >= 2 && (guint8)raw[0] == 0x1f && (guint8)raw[1] == 0x8b)
    {
      unz = gunzip ((const guint8 *)raw, raw_len, error);
      g_free (raw);
      raw = NULL;
      if (unz == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
      text_len = g_bytes_get_size (unz);
      text = g_malloc (text_len + 1);
      memcpy (text, g_bytes_get_data (unz, NULL), text_len);
      text[text_len] = '\0';
      g_bytes_unref (unz);
    }
  else
    {
      text = raw;
      text_len = raw_len;
    }
  if (!g_utf8_validate (text, text_len, NULL))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: vocabulary is not valid UTF-8", path);
      goto out;
    }

  /* line 1 is the version header, then 48,894 merges */
  merges = g_new (const char *, UPM_BPE_CLIP_N_MERGES);
  nl = strchr (text, '\n');
  line = nl ? nl + 1 : text + text_len;
  while (n_merges < UPM_BPE_CLIP_N_MERGES && *line)
    {
      nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      if (nl != NULL && nl > line && nl[-1] == '\r')
        nl[-1] = '\0';
      merges[n_merges++] = line;
      line = nl ? nl + 1 : line + strlen (line);
    }
  if (n_merges < UPM_BPE_CLIP_N_MERGES)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: %u merges, CLIP's vocabulary has at least %u", path, n_merges,
          UPM_BPE_CLIP_N_MERGES);
      goto out;
    }

  n_tokens = 512 + n_merges + G_N_ELEMENTS (special_tokens);
  tokens = g_new (const char *, n_tokens);
  owned = g_new0 (char *, 512 + n_merges + 1);
  bytes_to_unicode (order, cp);
  for (i = 0; i < 256; i++)
    {
      char u[8] = { 0 };
      g_unichar_to_utf8 (cp[i], u);
      owned[i] = g_strdup (u);
      owned[256 + i] = g_strconcat (u, UPM_BPE_EOW, NULL);
    }
  for (i = 0; i < n_merges; i++)
    {
      const char *sp = strchr (merges[i], ' ');
      if (sp == NULL)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: merge line %u is not \"left right\"", path, i + 2);
          goto out;
        }
      owned[512 + i] = g_strconcat (merges[i], NULL);
      /* drop the space: left + right */
      memmove (owned[512 + i] + (sp - merges[i]),
          owned[512 + i] + (sp - merges[i]) + 1, strlen (sp));
    }
  for (i = 0; i < 512 + n_merges; i++)
    tokens[i] = owned[i];
  for (i = 0; i < G_N_ELEMENTS (special_tokens); i++)
    tokens[512 + n_merges + i] = special_tokens[i];

  bpe = upm_bpe_new (tokens, n_tokens, merges, n_merges, error);
  if (bpe == NULL)
    g_prefix_error (error, "%s: ", path);

out:
  if (owned)
    g_strfreev (owned);
  g_free (tokens);
  g_free (merges);
  g_free (text);
  return bpe;
}

/* ---------------------------------------------------------------- encode */

/* BPE of one piece: byte symbols (last one word-final), then repeatedly
 * merge every occurrence, left to right, of the adjacent pair of lowest
 * rank. */
static void
bpe_piece (const UpmBpe *bpe, const guint8 *bytes, gsize n, GArray *out)
{
  gint32 stack_word[64] = { 0 };
  gint32 *word
      = n <= G_N_ELEMENTS (stack_word) ? stack_word : g_new (gint32, n);
  gsize len = n, i, j;

  for (i = 0; i < n; i++)
    word[i] = i + 1 < n ? bpe->byte_id[bytes[i]] : bpe->byte_eow_id[bytes[i]];

  while (len > 1)
    {
      guint32 best_rank = G_MAXUINT32;
      gint32 first = -1, second = -1, merged = -1;

      for (i = 0; i + 1 < len; i++)
        {
          const UpmMergeSlot *s = merge_lookup (bpe, word[i], word[i + 1]);
          if (s != NULL && s->rank < best_rank)
            {
              best_rank = s->rank;
              first = word[i];
              second = word[i + 1];
              merged = s->result;
            }
        }
      if (merged < 0)
        break;
      for (i = 0, j = 0; i < len; j++)
        {
          if (i + 1 < len && word[i] == first && word[i + 1] == second)
            {
              word[j] = merged;
              i += 2;
            }
          else
            {
              word[j] = word[i++];
            }
        }
      len = j;
    }
  g_array_append_vals (out, word, len);
  if (word != stack_word)
    g_free (word);
}

/* The same for long pieces in O(n log n): a heap of (rank, position) over a
 * linked list of symbols.  All occurrences of the lowest-ranked pair are
 * merged in position order before the pairs they create enter the heap,
 * which reproduces the loop above exactly. */
static void
heap_push (GArray *heap, guint64 v)
{
  guint64 *h;
  guint i;

  g_array_append_val (heap, v);
  h = (guint64 *)heap->data;
  for (i = heap->len - 1; i > 0 && h[(i - 1) / 2] > h[i]; i = (i - 1) / 2)
    {
      guint64 t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
    }
}

static guint64
heap_pop (GArray *heap)
{
  guint64 *h = (guint64 *)heap->data, top = h[0];
  guint i = 0, n = heap->len - 1;

  h[0] = h[n];
  g_array_set_size (heap, n);
  for (;;)
    {
      guint l = 2 * i + 1, m = i;
      guint64 t;
      if (l < n && h[l] < h[m])
        m = l;
      if (l + 1 < n && h[l + 1] < h[m])
        m = l + 1;
      if (m == i)
        break;
      t = h[i];
      h[i] = h[m];
      h[m] = t;
      i = m;
    }
  return top;
}

static void
bpe_piece_long (const UpmBpe *bpe, const guint8 *bytes, gsize n, GArray *out)
{
  gint32 *sym = g_new (gint32, n);
  gint64 *next = g_new (gint64, n), *prev = g_new (gint64, n);
  GArray *heap = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *pending = g_array_new (FALSE, FALSE, sizeof (guint64));
  gint64 i;

  for (i = 0; i < (gint64)n; i++)
    {
      sym[i] = i + 1 < (gint64)n ? bpe->byte_id[bytes[i]]
                                 : bpe->byte_eow_id[bytes[i]];
      next[i] = i + 1 < (gint64)n ? i + 1 : -1;
      prev[i] = i - 1;
    }
  for (i = 0; i + 1 < (gint64)n; i++)
    {
      const UpmMergeSlot *m = merge_lookup (bpe, sym[i], sym[i + 1]);
      if (m != NULL)
        heap_push (heap, ((guint64)m->rank << 32) | (guint64)i);
    }

  while (heap->len > 0)
    {
      guint32 rank = (guint32)(g_array_index (heap, guint64, 0) >> 32);
      guint k;

      g_array_set_size (pending, 0);
      while (heap->len > 0
             && (guint32)(g_array_index (heap, guint64, 0) >> 32) == rank)
        {
          gint64 pos = (gint64)(heap_pop (heap) & G_MAXUINT32), nx;
          const UpmMergeSlot *m;

          if (sym[pos] < 0 || (nx = next[pos]) < 0)
            continue;
          m = merge_lookup (bpe, sym[pos], sym[nx]);
          if (m == NULL || m->rank != rank)
            continue;
          sym[pos] = m->result;
          sym[nx] = -1;
          next[pos] = next[nx];
          if (next[nx] >= 0)
            prev[next[nx]] = pos;
          if (prev[pos] >= 0)
            {
              const UpmMergeSlot *a
                  = merge_lookup (bpe, sym[prev[pos]], sym[pos]);
              if (a != NULL)
                {
                  guint64 v = ((guint64)a->rank << 32) | (guint64)prev[pos];
                  g_array_append_val (pending, v);
                }
            }
          if (next[pos] >= 0)
            {
              const UpmMergeSlot *b
                  = merge_lookup (bpe, sym[pos], sym[next[pos]]);
              if (b != NULL)
                {
                  guint64 v = ((guint64)b->rank << 32) | (guint64)pos;
                  g_array_append_val (pending, v);
                }
            }
        }
      for (k = 0; k < pending->len; k++)
        heap_push (heap, g_array_index (pending, guint64, k));
    }

  for (i = 0; i >= 0; i = next[i])
    g_array_append_val (out, sym[i]);

  g_array_unref (heap);
  g_array_unref (pending);
  g_free (sym);
  g_free (next);
  g_free (prev);
}

static void
encode_piece (const UpmBpe *bpe, const char *piece, gsize n, GArray *ids)
{
  UpmBpe *mut = (UpmBpe *)bpe;
  GArray *cached;
  char *key;

  if (n > 256)
    {
      bpe_piece_long (bpe, (const guint8 *)piece, n, ids);
      return;
    }
  key = g_strndup (piece, n);
  g_mutex_lock (&mut->cache_lock);
  cached = g_hash_table_lookup (mut->cache, key);
  if (cached != NULL)
    {
      g_array_append_vals (ids, cached->data, cached->len);
      g_mutex_unlock (&mut->cache_lock);
      g_free (key);
      return;
    }
  g_mutex_unlock (&mut->cache_lock);

  cached = g_array_new (FALSE, FALSE, sizeof (gint32));
  bpe_piece (bpe, (const guint8 *)piece, n, cached);
  g_array_append_vals (ids, cached->data, cached->len);

  g_mutex_lock (&mut->cache_lock);
  if (g_hash_table_size (mut->cache) >= UPM_BPE_CACHE_MAX)
    g_hash_table_remove_all (mut->cache);
  g_hash_table_replace (mut->cache, key, cached);
  g_mutex_unlock (&mut->cache_lock);
}

/* CLIP compiles its pattern with re.IGNORECASE; on lower-cased text the
 * only extra match for the literals is U+017F LATIN SMALL LETTER LONG S,
 * which simple-case-folds to 's'.  Returns the bytes matched, or 0. */
static gsize
match_literal_ci (const char *p, const char *lit)
{
  const char *start = p;

  for (; *lit; lit++)
    {
      if (*p == *lit)
        p++;
      else if (*lit == 's' && (guint8)p[0] == 0xc5 && (guint8)p[1] == 0xbf)
        p += 2;
      else
        return 0;
    }
  return p - start;
}

/* Length of the contraction ('s 't 're 've 'm 'll 'd) at p, or 0. */
static gsize
match_contraction (const char *p)
{
  static const char *const contractions[] = {
    "'s",
    "'t",
    "'re",
    "'ve",
    "'m",
    "'ll",
    "'d",
  };
  guint i;
  gsize n;

  if (p[0] != '\'')
    return 0;
  for (i = 0; i < G_N_ELEMENTS (contractions); i++)
    if ((n = match_literal_ci (p, contractions[i])) > 0)
      return n;
  return 0;
}

gboolean
upm_bpe_encode (const UpmBpe *bpe, const char *text, gssize len, GArray *ids,
    GError **error)
{
  char *nfc, *u1, *u2, *clean;
  const char *p;

  if (bpe == NULL || ids == NULL || (text == NULL && len != 0))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "upm_bpe_encode: NULL argument");
      return FALSE;
    }
  if (g_array_get_element_size (ids) != sizeof (int32_t))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "upm_bpe_encode: the id array must hold int32_t");
      return FALSE;
    }
  if (text == NULL)
    return TRUE;
  if (!g_utf8_validate (text, len, NULL))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "text is not valid UTF-8");
      return FALSE;
    }

  /* ftfy.fix_text: identity for well-formed text except NFC (see top) */
  nfc = g_utf8_normalize (text, len, G_NORMALIZE_NFC);
  if (nfc == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "text is not valid UTF-8");
      return FALSE;
    }
  u1 = html_unescape (nfc);
  u2 = html_unescape (u1);
  clean = clean_and_lower (u2);
  g_free (nfc);
  g_free (u1);
  g_free (u2);

  /* re.findall (PAT, clean) */
  for (p = clean; *p;)
    {
      gunichar c = g_utf8_get_char (p);
      const char *q;
      gsize n;
      guint i;
      gboolean special = FALSE;

      if (c == '<')
        {
          for (i = 0; i < G_N_ELEMENTS (atomic_specials); i++)
            {
              gsize sl = match_literal_ci (p, atomic_specials[i]);
              if (sl > 0)
                {
                  /* the id only for the exact text (CLIP's bpe cache) */
                  if (bpe->special_id[i] >= 0
                      && sl == strlen (atomic_specials[i]))
                    g_array_append_val (ids, bpe->special_id[i]);
                  else
                    encode_piece (bpe, p, sl, ids);
                  p += sl;
                  special = TRUE;
                  break;
                }
            }
          if (special)
            continue;
        }
      if ((n = match_contraction (p)) > 0)
        {
          encode_piece (bpe, p, n, ids);
          p += n;
          continue;
        }
      if (is_regex_space (c))
        {
          p = g_utf8_next_char (p);
          continue;
        }
      q = g_utf8_next_char (p);
      if (is_letter (c))
        {
          while (*q && is_letter (g_utf8_get_char (q)))
            q = g_utf8_next_char (q);
        }
      else if (!is_number (c))
        {
          while (*q)
            {
              gunichar d = g_utf8_get_char (q);
              if (is_regex_space (d) || is_letter (d) || is_number (d))
                break;
              q = g_utf8_next_char (q);
            }
        }
      encode_piece (bpe, p, q - p, ids);
      p = q;
    }
  g_free (clean);
  return TRUE;
}

/* ---------------------------------------------------------------- decode */

/* bytes.decode ('utf-8', errors='replace'): each maximal invalid subpart
 * becomes one U+FFFD. */
static void
append_utf8_lossy (GString *out, const guint8 *s, gsize n)
{
  gsize i = 0;

  while (i < n)
    {
      guint8 b = s[i];
      gsize need, k;
      guint8 lo = 0x80, hi = 0xbf;

      if (b < 0x80)
        {
          g_string_append_c (out, (char)b);
          i++;
          continue;
        }
      if (b >= 0xc2 && b <= 0xdf)
        need = 1;
      else if (b >= 0xe0 && b <= 0xef)
        {
          need = 2;
          if (b == 0xe0)
            lo = 0xa0;
          else if (b == 0xed)
            hi = 0x9f;
        }
      else if (b >= 0xf0 && b <= 0xf4)
        {
          need = 3;
          if (b == 0xf0)
            lo = 0x90;
          else if (b == 0xf4)
            hi = 0x8f;
        }
      else
        {
          g_string_append (out, "\xef\xbf\xbd");
          i++;
          continue;
        }
      for (k = 1; k <= need; k++)
        {
          guint8 c;
          if (i + k >= n)
            break;
          c = s[i + k];
          if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
            break;
        }
      if (k > need)
        {
          g_string_append_len (out, (const char *)s + i, need + 1);
          i += need + 1;
        }
      else
        {
          g_string_append (out, "\xef\xbf\xbd");
          i += k;
        }
    }
}

char *
upm_bpe_decode (const UpmBpe *bpe, const int32_t *ids, gsize n_ids)
{
  GByteArray *bytes;
  GString *out;
  gsize i, j;
  char *s, *start, *end;

  if (bpe == NULL || (ids == NULL && n_ids > 0))
    return g_strdup ("");

  bytes = g_byte_array_new ();
  for (i = 0; i < n_ids; i++)
    {
      const char *p;

      if (ids[i] < 0 || (guint)ids[i] >= bpe->n_tokens)
        continue;
      for (p = bpe->symbols[ids[i]]; *p; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);
          if (c < G_N_ELEMENTS (bpe->byte_decoder) && bpe->byte_decoder[c] >= 0)
            {
              guint8 b = (guint8)bpe->byte_decoder[c];
              g_byte_array_append (bytes, &b, 1);
            }
          else
            {
              g_byte_array_append (
                  bytes, (const guint8 *)p, g_utf8_next_char (p) - p);
            }
        }
    }

  /* "</w>" -> " " on the bytes, then lossy UTF-8 */
  for (i = 0, j = 0; i < bytes->len;)
    {
      if (i + UPM_BPE_EOW_LEN <= bytes->len
          && memcmp (bytes->data + i, UPM_BPE_EOW, UPM_BPE_EOW_LEN) == 0)
        {
          bytes->data[j++] = ' ';
          i += UPM_BPE_EOW_LEN;
        }
      else
        {
          bytes->data[j++] = bytes->data[i++];
        }
    }
  out = g_string_sized_new (j + 1);
  append_utf8_lossy (out, bytes->data, j);
  g_byte_array_unref (bytes);

  /* strip () */
  s = g_string_free (out, FALSE);
  start = s;
  end = s + strlen (s);
  while (start < end && is_py_space (g_utf8_get_char (start)))
    start = g_utf8_next_char (start);
  while (end > start)
    {
      char *q = g_utf8_find_prev_char (start, end);
      if (q == NULL || !is_py_space (g_utf8_get_char (q)))
        break;
      end = q;
    }
  memmove (s, start, end - start);
  s[end - start] = '\0';
  return s;
}

void
upm_tokens_truncate (GArray *ids, guint max_len)
{
  if (ids == NULL || max_len == 0 || ids->len <= max_len)
    return;
  g_array_index (ids, int32_t, max_len - 1)
      = g_array_index (ids, int32_t, ids->len - 1);
  g_array_set_size (ids, max_len);
}
