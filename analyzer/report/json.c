/*
 * json.c — JSON string output that is valid whatever bytes come in:
 * paths and messages from a trace are arbitrary bytes, JSON is UTF-8.
 */
#include "report.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
int hs_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0) lo = 0xa0;          /* overlong            */
		if (c == 0xed) hi = 0x9f;          /* UTF-16 surrogates   */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0) lo = 0x90;          /* overlong            */
		if (c == 0xf4) hi = 0x8f;          /* above U+10FFFF      */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void hs_json_string(FILE *out, const char *str)
{
	if (!str) {
		fputs("null", out);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	putc('"', out);
	while (*s) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n': fputs("\\n", out); break;
			case '\r': fputs("\\r", out); break;
			case '\t': fputs("\\t", out); break;
			case '\b': fputs("\\b", out); break;
			case '\f': fputs("\\f", out); break;
			default: fprintf(out, "\\u%04x", c);
			}
			s++;
		} else if (c < 0x80) {
			putc(c, out);
			s++;
		} else {
			int n = hs_utf8_len(s);
			if (n) {
				fwrite(s, 1, (size_t)n, out);
				s += n;
			} else {
				fputs("\\ufffd", out);   /* one bad byte, one U+FFFD */
				s++;
			}
		}
	}
	putc('"', out);
}
