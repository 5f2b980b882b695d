/*
 * svg_util.c — small helpers shared by the picture writers.
 */
#include "svg.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void hs_xml_text(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control bytes are not allowed in XML 1.0 */
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
				fputc('?', f);
			else
				fputc(*s, f);
		}
}

double hs_nice_step(double max, int want)
{
	if (!(max > 0) || want < 1)
		return 1;
	double raw = max / want;
	double p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

double hs_byte_unit(double max, const char **name)
{
	static const char *const names[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double d = 1;
	int u = 0;
	while (max / d >= 2048 && u < 4) {
		d *= 1024;
		u++;
	}
	*name = names[u];
	return d;
}
