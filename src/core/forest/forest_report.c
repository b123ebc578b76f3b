/*
 * forest_report.c — precision, recall, F1 and support from a confusion matrix, with the semantics
 * of scikit-learn's classification_report / f1_score: the labels are those present among the actual
 * or the predicted values, a ratio with a zero denominator counts as 0, the macro average is the
 * plain mean over those labels and the weighted average weighs each label by its support.
 */
#include "forest/forest.h"

#include <string.h>

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

int
ntg_class_report(const int64_t *cm, int n, NtgClassReport *out, NtgError *err)
{
	int64_t		correct = 0;
	int			m = 0;

	memset(out, 0, sizeof(*out));
	out->label = ntg_calloc(n > 0 ? n : 1, sizeof(int));
	out->precision = ntg_calloc(n > 0 ? n : 1, sizeof(double));
	out->recall = ntg_calloc(n > 0 ? n : 1, sizeof(double));
	out->f1 = ntg_calloc(n > 0 ? n : 1, sizeof(double));
	out->support = ntg_calloc(n > 0 ? n : 1, sizeof(int64_t));
	if (!out->label || !out->precision || !out->recall || !out->f1 || !out->support)
	{
		ntg_class_report_free(out);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	for (int k = 0; k < n; k++)
	{
		int64_t		tp = cm[(size_t) k * n + k],
					actual = 0,
					predicted = 0;
		double		p,
					r;

		for (int j = 0; j < n; j++)
		{
			actual += cm[(size_t) k * n + j];
			predicted += cm[(size_t) j * n + k];
		}
		out->total += actual;
		correct += tp;
		if (actual == 0 && predicted == 0)
			continue;
		p = ratio((double) tp, (double) predicted);
		r = ratio((double) tp, (double) actual);
		out->label[m] = k;
		out->precision[m] = p;
		out->recall[m] = r;
		out->f1[m] = ratio(2 * p * r, p + r);
		out->support[m] = actual;
		m++;
	}
	out->n_labels = m;
	out->accuracy = ratio((double) correct, (double) out->total);
	for (int i = 0; i < m; i++)
	{
		double		w = ratio((double) out->support[i], (double) out->total);

		out->macro_precision += out->precision[i] / m;
		out->macro_recall += out->recall[i] / m;
		out->macro_f1 += out->f1[i] / m;
		out->weighted_precision += out->precision[i] * w;
		out->weighted_recall += out->recall[i] * w;
		out->weighted_f1 += out->f1[i] * w;
	}
	return NTG_OK;
}

void
ntg_class_report_free(NtgClassReport *r)
{
	ntg_free(r->label);
	ntg_free(r->precision);
	ntg_free(r->recall);
	ntg_free(r->f1);
	ntg_free(r->support);
	memset(r, 0, sizeof(*r));
}
