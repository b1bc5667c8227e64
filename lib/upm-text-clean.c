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
 * - ftfy.fix_text is not available.  upm_text_fix implements the parts of
 *   it that change ordinary text (docs/text-cleaning.md; tools/ftfy_subset.py
 *   is the same in Python for the reference tokenizer): ftfy's own HTML
 *   unescaping, UTF-8 read as Latin-1/Windows-1252 where a classic mojibake
 *   sequence shows it (ftfy's statistical "badness" test, its other
 *   encodings, the restored U+00A0 and the lossy-sequence repairs are not
 *   done), C1 controls, Latin ligatures, character width, curly quotes,
 *   line breaks, terminal escapes, control characters, NFC.
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

/* ------------------------------------------------- ftfy.fix_text subset */

/* The parts of ftfy.fix_text (ftfy 6, default TextFixerConfig) that change
 * ordinary text, applied per line in its order and repeated until nothing
 * changes, as fix_and_explain does (docs/text-cleaning.md lists what is
 * left out).  Each step takes valid UTF-8 and returns a new string. */

typedef char *(*TextFixStep) (const char *s);

/* Windows-1252's 0x80..0x9f, 0 where it has no character (ftfy's
 * "sloppy" codec keeps those bytes as U+0081 etc.). */
static const gunichar cp1252_high[32] = {
  0x20ac,
  0,
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
  0,
  0x017d,
  0,
  0,
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
  0,
  0x017e,
  0x0178,
};

/* The byte that @c was decoded from under Latin-1 or Windows-1252, or -1
 * (mojibake undone: text that was UTF-8 read as one of those). */
static int
mojibake_byte (gunichar c)
{
  if (c < 0x100)
    return (int)c;
  for (guint i = 0; i < G_N_ELEMENTS (cp1252_high); i++)
    if (cp1252_high[i] == c)
      return (int)(0x80 + i);
  return -1;
}

/* The bytes of [p, end) under mojibake_byte, NULL if one has none. */
static GString *
mojibake_bytes (const char *p, const char *end)
{
  GString *b = g_string_sized_new (end - p);

  for (; p < end; p = g_utf8_next_char (p))
    {
      int byte = mojibake_byte (g_utf8_get_char (p));
      if (byte < 0)
        {
          g_string_free (b, TRUE);
          return NULL;
        }
      g_string_append_c (b, (char)byte);
    }
  return b;
}

/* The UTF-8 text that [p, end) is the mojibake of, or NULL: every character
 * maps to a byte, some byte is not ASCII, and the bytes are valid UTF-8
 * without NUL. */
static char *
undo_mojibake (const char *p, const char *end)
{
  GString *b = mojibake_bytes (p, end);
  gboolean non_ascii = FALSE;

  if (b == NULL)
    return NULL;
  for (gsize i = 0; i < b->len; i++)
    non_ascii |= (guint8)b->str[i] >= 0x80;
  if (!non_ascii || memchr (b->str, 0, b->len)
      || !g_utf8_validate (b->str, b->len, NULL))
    {
      g_string_free (b, TRUE);
      return NULL;
    }
  return g_string_free (b, FALSE);
}

/* How many continuation bytes follow @lead in the classic mojibake of
 * UTF-8 read as Latin-1/Windows-1252: two-byte sequences of the Latin-1
 * supplement and Latin Extended-A ("Ã©" é, "Å›" ś), Greek ("Î±" α) and
 * Cyrillic ("Ð¿" п); three-byte ones of punctuation and symbols ("â€™" ’,
 * "âœ”" ✔) and CJK punctuation and kana ("ã€" 、); else 0.  ftfy judges by
 * a statistical "badness" instead; these leads followed by these bytes are
 * practically never meant, so text such as "IL Y MARQUÉ…" (which would
 * decode to "MARQUɅ") is left alone, as ftfy leaves it. */
static guint
classic_lead_needs (gunichar lead)
{
  switch (lead)
    {
    case 0xc2: /* Â */
    case 0xc3: /* Ã */
    case 0xc4: /* Ä */
    case 0xc5: /* Å */
    case 0xce: /* Î */
    case 0xcf: /* Ï */
    case 0xd0: /* Ð */
    case 0xd1: /* Ñ */
      return 1;
    case 0xe2: /* â */
    case 0xe3: /* ã */
      return 2;
    default:
      return 0;
    }
}

/* The length in bytes of the classic mojibake sequence at p, or 0. */
static gsize
classic_mojibake_len (const char *p)
{
  gunichar lead = g_utf8_get_char (p);
  guint need = classic_lead_needs (lead);
  const char *q = g_utf8_next_char (p);
  guint8 bytes[3] = { (guint8)lead, 0, 0 };

  if (need == 0)
    return 0;
  for (guint k = 1; k <= need; k++)
    {
      int b = *q ? mojibake_byte (g_utf8_get_char (q)) : -1;
      if (b < 0x80 || b > 0xbf)
        return 0;
      bytes[k] = (guint8)b;
      q = g_utf8_next_char (q);
    }
  if (!g_utf8_validate ((const char *)bytes, need + 1, NULL))
    return 0;
  return q - p;
}

static gboolean
has_classic_mojibake (const char *s)
{
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (classic_mojibake_len (p) > 0)
      return TRUE;
  return FALSE;
}

/* One layer of fix_encoding, for UTF-8 read as Latin-1 or Windows-1252,
 * where the text has a classic mojibake sequence: the whole text when all
 * of it decodes again, else each classic sequence (ftfy's
 * decode_inconsistent_utf8). */
static char *
fix_mojibake_once (const char *s)
{
  GString *out;
  char *whole;

  if (!has_classic_mojibake (s))
    return g_strdup (s);
  if ((whole = undo_mojibake (s, s + strlen (s))) != NULL)
    return whole;
  out = g_string_sized_new (strlen (s));
  for (const char *p = s; *p;)
    {
      gsize n = classic_mojibake_len (p);
      char *fixed = n ? undo_mojibake (p, p + n) : NULL;

      if (fixed != NULL)
        {
          g_string_append (out, fixed);
          g_free (fixed);
          p += n;
        }
      else
        {
          const char *next = g_utf8_next_char (p);
          g_string_append_len (out, p, next - p);
          p = next;
        }
    }
  return g_string_free (out, FALSE);
}

/* fix_encoding: every layer comes off before the other fixes run (uncurled
 * quotes would break the next layer). */
static char *
fix_mojibake (const char *s)
{
  char *text = g_strdup (s);

  for (guint layer = 0; layer < 16; layer++)
    {
      char *fixed = fix_mojibake_once (text);
      gboolean same = strcmp (fixed, text) == 0;
      g_free (text);
      text = fixed;
      if (same)
        break;
    }
  return text;
}

/* One code point to zero or more: the per-character fixers of ftfy. */
typedef gboolean (*CharMap) (gunichar c, GString *out);

static char *
map_chars (const char *s, CharMap map)
{
  GString *out = g_string_sized_new (strlen (s));

  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (!map (c, out))
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* fix_c1_controls: U+0080..U+009F as Windows-1252 where it has a char. */
static gboolean
map_c1 (gunichar c, GString *out)
{
  if (c < 0x80 || c > 0x9f || cp1252_high[c - 0x80] == 0)
    return FALSE;
  g_string_append_unichar (out, cp1252_high[c - 0x80]);
  return TRUE;
}

/* fix_latin_ligatures (ftfy.chardata.LIGATURES). */
static gboolean
map_ligature (gunichar c, GString *out)
{
  static const struct
  {
    gunichar c;
    const char *s;
  } ligatures[] = {
    { 0x132, "IJ" },
    { 0x133, "ij" },
    { 0x149, "\xca\xbcn" },
    { 0x1f1, "DZ" },
    { 0x1f2, "Dz" },
    { 0x1f3, "dz" },
    { 0x1c4, "D\xc5\xbd" },
    { 0x1c5, "D\xc5\xbe" },
    { 0x1c6, "d\xc5\xbe" },
    { 0x1c7, "LJ" },
    { 0x1c8, "Lj" },
    { 0x1c9, "lj" },
    { 0x1ca, "NJ" },
    { 0x1cb, "Nj" },
    { 0x1cc, "nj" },
    { 0xfb00, "ff" },
    { 0xfb01, "fi" },
    { 0xfb02, "fl" },
    { 0xfb03, "ffi" },
    { 0xfb04, "ffl" },
    { 0xfb05, "\xc5\xbft" },
    { 0xfb06, "st" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (ligatures); i++)
    if (ligatures[i].c == c)
      {
        g_string_append (out, ligatures[i].s);
        return TRUE;
      }
  return FALSE;
}

/* fix_character_width: U+3000 is a space; U+FF01..U+FFEF become their
 * NFKC form when they have one (full-width ASCII, half-width katakana and
 * Hangul, the full-width symbols). */
static gboolean
map_width (gunichar c, GString *out)
{
  char buf[8];
  gsize n;
  char *nfkc;

  if (c == 0x3000)
    {
      g_string_append_c (out, ' ');
      return TRUE;
    }
  if (c < 0xff01 || c >= 0xfff0)
    return FALSE;
  n = g_unichar_to_utf8 (c, buf);
  nfkc = g_utf8_normalize (buf, n, G_NORMALIZE_NFKC);
  g_string_append (out, nfkc ? nfkc : "");
  if (!nfkc)
    g_string_append_len (out, buf, n);
  g_free (nfkc);
  return TRUE;
}

/* uncurl_quotes: U+02BC and U+2018..U+201B -> ', U+201C..U+201F -> ". */
static gboolean
map_quote (gunichar c, GString *out)
{
  if (c == 0x2bc || (c >= 0x2018 && c <= 0x201b))
    g_string_append_c (out, '\'');
  else if (c >= 0x201c && c <= 0x201f)
    g_string_append_c (out, '"');
  else
    return FALSE;
  return TRUE;
}

/* fix_line_breaks ("\r\n" is handled by fix_line_breaks below) and
 * remove_control_chars. */
static gboolean
map_break_or_control (gunichar c, GString *out)
{
  if (c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029)
    {
      g_string_append_c (out, '\n');
      return TRUE;
    }
  return c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f
         || (c >= 0x206a && c <= 0x206f) || c == 0xfeff
         || (c >= 0xfff9 && c <= 0xfffc);
}

static char *
fix_c1_controls (const char *s)
{
  return map_chars (s, map_c1);
}

static char *
fix_latin_ligatures (const char *s)
{
  return map_chars (s, map_ligature);
}

static char *
fix_character_width (const char *s)
{
  return map_chars (s, map_width);
}

static char *
uncurl_quotes (const char *s)
{
  return map_chars (s, map_quote);
}

/* fix_line_breaks, remove_terminal_escapes and remove_control_chars, in
 * that order: "\r\n" first, then ESC '[' [0-9;]* letter, then the rest. */
static char *
fix_breaks_and_controls (const char *s)
{
  GString *t = g_string_sized_new (strlen (s));
  char *out;

  for (const char *p = s; *p; p++)
    {
      if (p[0] == '\r' && p[1] == '\n')
        continue;
      if (p[0] == '\x1b' && p[1] == '[')
        {
          const char *q = p + 2;
          while (g_ascii_isdigit (*q) || *q == ';')
            q++;
          if (g_ascii_isalpha (*q))
            {
              p = q;
              continue;
            }
        }
      g_string_append_c (t, *p);
    }
  out = map_chars (t->str, map_break_or_control);
  g_string_free (t, TRUE);
  return out;
}

/* ftfy's unescape_html: only "&#?[0-9A-Za-z]{1,24};" is decoded: an HTML5
 * name with its ';', the all-capitals form of a lower-case one
 * ("&EACUTE;" -> "É") unless html.unescape reads it otherwise, or a numeric
 * reference that html.unescape decodes whole. */
static char *
upper_case_entity (const char *ref, gsize len)
{
  char *lower = g_ascii_strdown (ref, len);
  char *upper_again = g_ascii_strup (lower, len);
  const UpmHtmlEntity *e = NULL;
  char *value;

  /* "&EACUTE;": no lower-case letters, and "&eacute;" is a name */
  if (strcmp (upper_again, ref) == 0 && strcmp (lower, ref) != 0)
    e = find_entity (lower + 1, len - 1);
  value = e ? g_utf8_strup (e->value, -1) : NULL;
  g_free (upper_again);
  g_free (lower);
  return value;
}

static char *
decode_ftfy_entity (const char *amp, gsize len)
{
  const UpmHtmlEntity *exact = find_entity (amp + 1, len - 1);
  char *ref, *plain, *value = NULL;

  if (exact != NULL)
    return g_strdup (exact->value);
  ref = g_strndup (amp, len);
  plain = html_unescape (ref);
  if (amp[1] == '#')
    value = strchr (plain, ';') ? NULL : g_strdup (plain);
  else if (strcmp (plain, ref) == 0)
    value = upper_case_entity (ref, len);
  g_free (plain);
  if (value == NULL)
    return ref;
  g_free (ref);
  return value;
}

/* Length of "&#?[0-9A-Za-z]{1,24};" at p, or 0. */
static gsize
ftfy_entity_len (const char *p)
{
  const char *q = p + 1;
  guint n = 0;

  if (*q == '#')
    q++;
  while (g_ascii_isalnum (q[n]) && n <= 24)
    n++;
  if (n < 1 || n > 24 || q[n] != ';')
    return 0;
  return (q + n + 1) - p;
}

static char *
ftfy_unescape_html (const char *s)
{
  GString *out = g_string_sized_new (strlen (s));

  for (const char *p = s; *p;)
    {
      gsize n = *p == '&' ? ftfy_entity_len (p) : 0;
      if (n > 0)
        {
          char *v = decode_ftfy_entity (p, n);
          g_string_append (out, v);
          g_free (v);
          p += n;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static char *
normalize_nfc (const char *s)
{
  char *n = g_utf8_normalize (s, -1, G_NORMALIZE_NFC);

  return n ? n : g_strdup (s);
}

/* fix_and_explain on one line: the steps until a fixed point. */
static char *
fix_segment (const char *segment, gboolean unescape)
{
  static const TextFixStep steps[] = {
    fix_mojibake,
    fix_c1_controls,
    fix_latin_ligatures,
    fix_character_width,
    uncurl_quotes,
    fix_breaks_and_controls,
    normalize_nfc,
  };
  char *text = g_strdup (segment);

  /* each round that changes something makes the text shorter or
   * replaces characters by simpler ones; the bound is only a guard */
  for (guint round = 0; round < 16; round++)
    {
      char *orig = g_strdup (text);
      if (unescape)
        {
          char *t = ftfy_unescape_html (text);
          g_free (text);
          text = t;
        }
      for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
        {
          char *t = steps[i](text);
          g_free (text);
          text = t;
        }
      gboolean same = strcmp (orig, text) == 0;
      g_free (orig);
      if (same)
        break;
    }
  return text;
}

/* ftfy.fix_text: line by line (the '\n' kept); HTML entities are left alone
 * from the first line that has a '<' on (ftfy's "auto" setting). */
char *
upm_text_fix (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  gboolean unescape = TRUE;
  const char *p = text;

  while (*p)
    {
      const char *nl = strchr (p, '\n');
      const char *end = nl ? nl + 1 : p + strlen (p);
      char *segment = g_strndup (p, end - p);
      char *fixed;

      if (strchr (segment, '<'))
        unescape = FALSE;
      fixed = fix_segment (segment, unescape);
      g_string_append (out, fixed);
      g_free (fixed);
      g_free (segment);
      p = end;
    }
  return g_string_free (out, FALSE);
}

char *
upm_text_clean (const char *text, gssize len, GError **error)
{
  char *copy, *nfc, *u1, *u2, *clean;

  if (!g_utf8_validate (text, len, NULL))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "text is not valid UTF-8");
      return NULL;
    }
  copy = len < 0 ? g_strdup (text) : g_strndup (text, len);
  nfc = upm_text_fix (copy);
  g_free (copy);
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
