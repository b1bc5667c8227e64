/* upm-text-clean.c: CLIP's text clean-up and split (model-spec §2.1).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This follows CLIP's / Uni-Perceiver's tokenization_clip.py up to the BPE:
 *
 *   text = ftfy.fix_text (text)
 *   text = html.unescape (html.unescape (text)).strip ()
 *   text = re.sub (r'\s+', ' ', text).strip ().lower ()
 *   for piece in re.findall (PAT, text): BPE (byte_encode (piece))
 *
 * with PAT = <\|startoftext\|>|<\|endoftext\|>|<\|gen\|>|<\|spe\|>|
 *            's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * (Python `regex` module semantics; <|mask|> is *not* atomic), and the
 * way back: bytes.decode ('utf-8', errors='replace') and strip ().
 *
 * Deviations from the Python implementation, all documented here (the
 * BPE's own are in upm-bpe.c):
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
 */
#include "upm-text-clean.h"
#include "upm-html-entities.h"

#include <string.h>

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

const char *const upm_text_atomic_specials[UPM_TEXT_N_ATOMIC_SPECIALS] = {
  "<|startoftext|>",
  "<|endoftext|>",
  "<|gen|>",
  "<|spe|>",
};

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

/* Python's str.strip (): narrows [*start, *end) of valid UTF-8. */
static void
py_strip_bounds (const char **start, const char **end)
{
  const char *p = *start, *e = *end, *q;

  while (p < e && is_py_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  while (e > p)
    {
      q = g_utf8_find_prev_char (p, e);
      if (q == NULL || !is_py_space (g_utf8_get_char (q)))
        break;
      e = q;
    }
  *start = p;
  *end = e;
}

char *
upm_text_strip (char *s)
{
  const char *start = s, *end = s + strlen (s);

  py_strip_bounds (&start, &end);
  memmove (s, start, end - start);
  s[end - start] = '\0';
  return s;
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

/* A numeric reference at q, just after its '&' ("#65;", "#x41", ';'
 * optional), onto @out; returns where the text goes on.  Without digits
 * the '&' is kept as text. */
static const char *
unescape_numeric (const char *q, GString *out)
{
  guint64 num = 0;
  gboolean hex = (q[1] == 'x' || q[1] == 'X') && g_ascii_isxdigit (q[2]);
  const char *d;

  if (g_ascii_isdigit (q[1]))
    {
      for (d = q + 1; g_ascii_isdigit (*d); d++)
        num = MIN (num * 10 + (guint64)(*d - '0'), (guint64)0x110000);
    }
  else if (hex)
    {
      for (d = q + 2; g_ascii_isxdigit (*d); d++)
        num = MIN (
            num * 16 + (guint64)g_ascii_xdigit_value (*d), (guint64)0x110000);
    }
  else
    {
      g_string_append_c (out, '&');
      return q;
    }
  if (*d == ';')
    d++;
  append_charref (out, num);
  return d;
}

/* A named reference at q, just after its '&', onto @out; returns where
 * the text goes on.  Without a name the '&' is kept as text. */
static const char *
unescape_named (const char *q, GString *out)
{
  const char *e = q, *end;
  const UpmHtmlEntity *ent, *best = NULL;
  gsize best_len = 0, total, l;
  guint n = 0;

  while (*e && n < 32 && is_html_name_char (g_utf8_get_char (e)))
    {
      e = g_utf8_next_char (e);
      n++;
    }
  if (n == 0)
    {
      g_string_append_c (out, '&');
      return q;
    }
  end = e;
  if (*end == ';')
    end++;
  total = end - q;
  ent = find_entity (q, total);
  if (ent != NULL)
    {
      g_string_append (out, ent->value);
      return end;
    }
  /* longest name that is a proper prefix (>= 2 chars; only the legacy
   * names, without ';', can be) */
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
  return end;
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

      if (amp == NULL)
        {
          g_string_append (out, p);
          break;
        }
      g_string_append_len (out, p, amp - p);
      if (amp[1] == '#')
        p = unescape_numeric (amp + 1, out);
      else
        p = unescape_named (amp + 1, out);
    }
  return g_string_free (out, FALSE);
}

/* re.sub (r'\s+', ' ', s).strip () after s.strip (), then .lower ().
 * (The first strip also removes U+001C..U+001F, as Python's does.) */
static char *
clean_and_lower (const char *s)
{
  GString *out = g_string_sized_new (strlen (s));
  const char *p = s, *end = s + strlen (s);
  gboolean pending_space = FALSE;

  /* basic_clean's strip () */
  py_strip_bounds (&p, &end);

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

char *
upm_text_clean (const char *text, gssize len, GError **error)
{
  char *nfc, *u1, *u2, *clean;

  if (!g_utf8_validate (text, len, NULL)
      || (nfc = g_utf8_normalize (text, len, G_NORMALIZE_NFC)) == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "text is not valid UTF-8");
      return NULL;
    }
  /* ftfy.fix_text: identity for well-formed text except NFC (see top) */
  u1 = html_unescape (nfc);
  u2 = html_unescape (u1);
  clean = clean_and_lower (u2);
  g_free (nfc);
  g_free (u1);
  g_free (u2);
  return clean;
}

/* ------------------------------------------------------------ the split */

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

/* Length of the atomic special token at p, or 0; *special as for
 * upm_text_next_piece. */
static gsize
match_atomic_special (const char *p, int *special)
{
  guint i;

  for (i = 0; i < UPM_TEXT_N_ATOMIC_SPECIALS; i++)
    {
      gsize n = match_literal_ci (p, upm_text_atomic_specials[i]);
      if (n > 0)
        {
          /* the id only for the exact text (CLIP's bpe cache) */
          *special = n == strlen (upm_text_atomic_specials[i]) ? (int)i : -1;
          return n;
        }
    }
  return 0;
}

/* The end of the letter run or the non-letter, non-number, non-space run
 * that starts with c at p; a number stands alone. */
static const char *
run_end (const char *p, gunichar c)
{
  const char *q = g_utf8_next_char (p);

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
  return q;
}

gboolean
upm_text_next_piece (
    const char **cursor, const char **piece, gsize *len, int *special)
{
  const char *p = *cursor;
  gsize n = 0;

  *special = -1;
  while (*p && is_regex_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  if (*p == '\0')
    {
      *cursor = p;
      return FALSE;
    }
  if (*p == '<')
    n = match_atomic_special (p, special);
  if (n == 0)
    n = match_contraction (p);
  if (n == 0)
    n = run_end (p, g_utf8_get_char (p)) - p;
  *piece = p;
  *len = n;
  *cursor = p + n;
  return TRUE;
}

/* ---------------------------------------------------------------- decode */

/* The well-formed UTF-8 sequences (Unicode table 3-7) by lead byte: how
 * many continuation bytes follow, and the range of the first one (the
 * others are always 0x80..0xbf). */
typedef struct
{
  guint8 first_lead, last_lead;
  guint8 need;
  guint8 lo, hi;
} Utf8Lead;

static const Utf8Lead utf8_leads[] = {
  { 0xc2, 0xdf, 1, 0x80, 0xbf },
  { 0xe0, 0xe0, 2, 0xa0, 0xbf },
  { 0xe1, 0xec, 2, 0x80, 0xbf },
  { 0xed, 0xed, 2, 0x80, 0x9f },
  { 0xee, 0xef, 2, 0x80, 0xbf },
  { 0xf0, 0xf0, 3, 0x90, 0xbf },
  { 0xf1, 0xf3, 3, 0x80, 0xbf },
  { 0xf4, 0xf4, 3, 0x80, 0x8f },
};

static const Utf8Lead *
find_utf8_lead (guint8 b)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (utf8_leads); i++)
    if (b >= utf8_leads[i].first_lead && b <= utf8_leads[i].last_lead)
      return &utf8_leads[i];
  return NULL;
}

/* Each maximal invalid subpart becomes one U+FFFD. */
void
upm_text_append_utf8_lossy (GString *out, const guint8 *s, gsize n)
{
  gsize i = 0;

  while (i < n)
    {
      guint8 b = s[i];
      const Utf8Lead *lead;
      gsize need, k;
      guint8 lo, hi;

      if (b < 0x80)
        {
          g_string_append_c (out, (char)b);
          i++;
          continue;
        }
      if ((lead = find_utf8_lead (b)) != NULL)
        {
          need = lead->need;
          lo = lead->lo;
          hi = lead->hi;
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
