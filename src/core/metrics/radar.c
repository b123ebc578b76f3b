/*
 * radar.c — SVG text of the fidelity radar chart (see radar.h).  Plain string building: the chart
 * is a pure function of its numbers, so unit tests can parse and check it without a server.
 */
#include "metrics/radar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PI 3.14159265358979323846
#define CX 320.0				/* chart centre and radius */
#define CY 330.0
#define RADIUS 200.0
#define RINGS 5
#define LEGEND_X 600.0
#define LEGEND_Y 110.0
#define LEGEND_ROW 24.0
#define VALUES_X 598.0			/* value table: right edge of column m at VALUES_X + VALUES_COL·(m+1) */
#define VALUES_COL 48.0
#define VALUES_ROW 16.0

static const char *const axis_labels[NTG_N_METRICS] = {
	"JSD num packets", "JSD 1-gram", "JSD 2-gram", "JSD Markov", "UniqAlign", "Leakage"
};

/* Tableau 10: distinct, colour-blind-friendlier than pure hues. */
static const char *const palette[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
};

typedef struct Buf
{
	char	   *s;
	size_t		len;
	size_t		cap;
	int			failed;
} Buf;

static void
buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (b->failed)
		return;
	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t) n < b->cap - b->len)
		{
			b->len += n;
			return;
		}
		{
			size_t		cap = b->cap * 2 + (size_t) (n > 0 ? n : 0);
			char	   *s = ntg_realloc(b->s, cap);

			if (s == NULL)
			{
				b->failed = 1;
				return;
			}
			b->s = s;
			b->cap = cap;
		}
	}
}

/* Text content or attribute value: escape markup, drop characters XML 1.0 forbids. */
static void
buf_escaped(Buf *b, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '&')
			buf_printf(b, "&amp;");
		else if (c == '<')
			buf_printf(b, "&lt;");
		else if (c == '>')
			buf_printf(b, "&gt;");
		else if (c == '"')
			buf_printf(b, "&quot;");
		else if (c == '\'')
			buf_printf(b, "&apos;");
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			buf_printf(b, " ");
		else
			buf_printf(b, "%c", c);
	}
}

double
ntg_radar_auto_scale(double max_value)
{
	static const double steps[] = {0.05, 0.1, 0.2, 0.25, 0.5, 1.0};

	for (int i = 0; i < (int) (sizeof(steps) / sizeof(steps[0])); i++)
		if (max_value <= steps[i])
			return steps[i];
	return 1.0;
}

static void
point(int axis, double frac, double *x, double *y)
{
	double		angle = -PI / 2 + 2 * PI * axis / NTG_N_METRICS;

	*x = CX + RADIUS * frac * cos(angle);
	*y = CY + RADIUS * frac * sin(angle);
}

static void
grid(Buf *b)
{
	buf_printf(b, "<g id=\"grid\" fill=\"none\" stroke=\"#c8c8c8\" stroke-width=\"1\">\n");
	for (int k = 1; k <= RINGS; k++)
	{
		buf_printf(b, "<polygon class=\"ring\" points=\"");
		for (int a = 0; a < NTG_N_METRICS; a++)
		{
			double		x,
						y;

			point(a, (double) k / RINGS, &x, &y);
			buf_printf(b, "%s%.1f,%.1f", a ? " " : "", x, y);
		}
		buf_printf(b, "\"/>\n");
	}
	buf_printf(b, "</g>\n");
}

/* Drawn after the polygons, so that fills do not hide them. */
static void
ring_labels(Buf *b, double scale)
{
	buf_printf(b, "<g id=\"ring-labels\" font-size=\"11\" fill=\"#555555\">\n");
	for (int k = 0; k <= RINGS; k++)
	{
		/* ring k sits at radius k/RINGS and carries the value scale·(1 − k/RINGS) */
		buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%g</text>\n", CX + 4,
				   CY - RADIUS * k / RINGS - 3, scale * (1.0 - (double) k / RINGS));
	}
	buf_printf(b, "</g>\n");
}

static void
axes(Buf *b)
{
	buf_printf(b, "<g id=\"axes\" stroke=\"#888888\" stroke-width=\"1\">\n");
	for (int a = 0; a < NTG_N_METRICS; a++)
	{
		double		x,
					y;

		point(a, 1.0, &x, &y);
		buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
				   CX, CY, x, y);
	}
	buf_printf(b, "</g>\n<g id=\"axis-labels\" font-size=\"14\" fill=\"#222222\">\n");
	for (int a = 0; a < NTG_N_METRICS; a++)
	{
		double		x,
					y;
		const char *anchor;

		point(a, 1.0 + 24.0 / RADIUS, &x, &y);
		anchor = fabs(x - CX) < 1.0 ? "middle" : (x > CX ? "start" : "end");
		buf_printf(b, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
				   "dominant-baseline=\"middle\">%s</text>\n", x, y, anchor, axis_labels[a]);
	}
	buf_printf(b, "</g>\n");
}

static void
polygon(Buf *b, int k, const char *name, const double *v, double scale)
{
	const char *colour = palette[k % (int) (sizeof(palette) / sizeof(palette[0]))];
	double		x[NTG_N_METRICS],
				y[NTG_N_METRICS];

	for (int a = 0; a < NTG_N_METRICS; a++)
		point(a, 1.0 - fmin(v[a], scale) / scale, &x[a], &y[a]);
	buf_printf(b, "<g class=\"set\">\n<polygon class=\"series\" fill=\"%s\" fill-opacity=\"0.15\" "
			   "stroke=\"%s\" stroke-width=\"2.5\" stroke-linejoin=\"round\" points=\"", colour, colour);
	for (int a = 0; a < NTG_N_METRICS; a++)
		buf_printf(b, "%s%.1f,%.1f", a ? " " : "", x[a], y[a]);
	buf_printf(b, "\"/>\n");
	for (int a = 0; a < NTG_N_METRICS; a++)
	{
		buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>", x[a], y[a], colour);
		buf_escaped(b, name);
		buf_printf(b, " — %s: %.4f</title></circle>\n", axis_labels[a], v[a]);
	}
	buf_printf(b, "</g>\n");
}

static void
legend(Buf *b, int n_sets, const char *const *names)
{
	buf_printf(b, "<g id=\"legend\" font-size=\"14\" fill=\"#222222\">\n");
	for (int k = 0; k < n_sets; k++)
	{
		const char *colour = palette[k % (int) (sizeof(palette) / sizeof(palette[0]))];
		double		y = LEGEND_Y + LEGEND_ROW * k;

		buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"16\" fill=\"%s\"/>"
				   "<text x=\"%.1f\" y=\"%.1f\">", LEGEND_X, y, colour, LEGEND_X + 24, y + 13);
		buf_escaped(b, names[k]);
		buf_printf(b, "</text>\n");
	}
	buf_printf(b, "</g>\n");
}

/* The numbers behind the polygons: one row per set, under the legend. */
static void
value_table(Buf *b, int n_sets, const double *values, double top)
{
	static const char *const heads[NTG_N_METRICS] = {"pkts", "1gram", "2gram", "markov", "uniq", "leak"};

	buf_printf(b, "<g id=\"values\" font-size=\"11\" fill=\"#333333\" text-anchor=\"end\">\n");
	for (int m = 0; m < NTG_N_METRICS; m++)
		buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666666\">%s</text>\n",
				   VALUES_X + VALUES_COL * (m + 1), top, heads[m]);
	for (int k = 0; k < n_sets; k++)
	{
		const char *colour = palette[k % (int) (sizeof(palette) / sizeof(palette[0]))];
		double		y = top + VALUES_ROW * (k + 1);

		buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n",
				   LEGEND_X, y - 9, colour);
		for (int m = 0; m < NTG_N_METRICS; m++)
			buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n",
					   VALUES_X + VALUES_COL * (m + 1), y, values[k * NTG_N_METRICS + m]);
	}
	buf_printf(b, "</g>\n");
}

static int
check_values(int n_sets, const char *const *names, const double *values, double scale,
			 NtgError *err)
{
	if (n_sets < 1 || n_sets > NTG_RADAR_MAX_SETS)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "a radar chart needs 1 to %d sets, not %d",
						 NTG_RADAR_MAX_SETS, n_sets);
	if (!(scale <= 0.0 || (scale > 0.0 && scale <= 1.0)))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "radar scale must be in (0, 1], not %g", scale);
	for (int k = 0; k < n_sets; k++)
	{
		if (names[k] == NULL)
			return ntg_error(err, NTG_ERR_INVALID_ARG, "radar set names must not be null");
		for (int m = 0; m < NTG_N_METRICS; m++)
		{
			double		v = values[k * NTG_N_METRICS + m];

			if (!(v >= 0.0 && v <= 1.0))
				return ntg_error(err, NTG_ERR_INVALID_ARG,
								 "metric values must be in [0, 1], not %g (%s of set %d)",
								 v, ntg_metric_name(m), k + 1);
		}
	}
	return NTG_OK;
}

int
ntg_radar_svg(int n_sets, const char *const *names, const double *values, const char *title,
			  double scale, char **svg, NtgError *err)
{
	Buf			b = {NULL, 0, 4096, 0};
	double		height,
				table_top;
	int			rc;

	*svg = NULL;
	if ((rc = check_values(n_sets, names, values, scale, err)) != NTG_OK)
		return rc;
	if (scale <= 0.0)
	{
		double		max_value = 0.0;

		for (int i = 0; i < n_sets * NTG_N_METRICS; i++)
			max_value = fmax(max_value, values[i]);
		scale = ntg_radar_auto_scale(max_value);
	}
	if ((b.s = ntg_malloc(b.cap)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	table_top = LEGEND_Y + LEGEND_ROW * n_sets + 24.0;
	height = fmax(640.0, table_top + VALUES_ROW * n_sets + 48.0);
	buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"%.0f\" "
			   "viewBox=\"0 0 900 %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
			   "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n", height, height);
	buf_printf(&b, "<text id=\"title\" x=\"450\" y=\"40\" text-anchor=\"middle\" font-size=\"20\" "
			   "font-weight=\"bold\">");
	buf_escaped(&b, title ? title : "Fidelity (0 at the outer edge: larger is better)");
	buf_printf(&b, "</text>\n");
	grid(&b);
	axes(&b);
	for (int k = 0; k < n_sets; k++)
		polygon(&b, k, names[k], values + k * NTG_N_METRICS, scale);
	ring_labels(&b, scale);
	legend(&b, n_sets, names);
	value_table(&b, n_sets, values, table_top);
	buf_printf(&b, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"12\" fill=\"#555555\">centre = %g, "
			   "outer edge = 0; lower is better on every axis</text>\n", LEGEND_X - 590, height - 16,
			   scale);
	buf_printf(&b, "</svg>\n");
	if (b.failed)
	{
		ntg_free(b.s);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	*svg = b.s;
	return NTG_OK;
}
