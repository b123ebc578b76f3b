/*
 * forest_io.c — a forest in and out of the NTGMODEL container (kind "random_forest").
 *
 * Tensors: meta i32[3] = {format 1, n_features, n_classes}; class_names u8 (n_classes names, each
 * NUL-terminated); tree_start i32[n_trees + 1]; feature, threshold, left, right i32[n_nodes];
 * leaf_class i32[n_entries]; leaf_prob f32[n_entries].  The container's CRC catches accidental
 * damage; the structural checks below make even a forged value with a valid CRC safe to walk:
 * every child index lies after its parent and inside its tree (so no walk can loop or leave the
 * arrays), every feature index is < n_features and every leaf distribution is in range and sums
 * to 1.
 */
#include "forest/forest.h"

#include <math.h>
#include <string.h>

#include "common/blob.h"

#define FOREST_FORMAT 1

int
ntg_forest_to_blob(const NtgForest *f, NtgBlob *blob, NtgError *err)
{
	int32_t		meta[3] = {FOREST_FORMAT, f->n_features, f->n_classes};
	char	   *config = ntg_forest_config_json(&f->config);
	uint32_t	d;
	int			rc = NTG_OK;

	if (config == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	ntg_blob_init(blob, NTG_FOREST_KIND, NULL);
	ntg_blob_take_config(blob, config);
	d = 3;
	rc = ntg_blob_add_copy(blob, "meta", NTG_DTYPE_I32, 1, &d, meta, err);
	if (rc == NTG_OK)
		rc = ntg_blob_add_classes(blob, "class_names", f->classes, f->n_classes, err);
#define ADD(name, dtype, count, data) \
	do { d = (uint32_t) (count); \
		 if (rc == NTG_OK) rc = ntg_blob_add(blob, name, dtype, 1, &d, data, err); } while (0)
	ADD("tree_start", NTG_DTYPE_I32, f->n_trees + 1, f->tree_start);
	ADD("feature", NTG_DTYPE_I32, f->n_nodes, f->feature);
	ADD("threshold", NTG_DTYPE_I32, f->n_nodes, f->threshold);
	ADD("left", NTG_DTYPE_I32, f->n_nodes, f->left);
	ADD("right", NTG_DTYPE_I32, f->n_nodes, f->right);
	ADD("leaf_class", NTG_DTYPE_I32, f->n_entries, f->leaf_class);
	ADD("leaf_prob", NTG_DTYPE_F32, f->n_entries, f->leaf_prob);
#undef ADD
	return rc;
}

int
ntg_forest_serialize(const NtgForest *f, uint8_t **out, size_t *out_len, NtgError *err)
{
	NtgBlob		blob;
	int			rc;

	memset(&blob, 0, sizeof(blob));
	rc = ntg_forest_to_blob(f, &blob, err);
	if (rc == NTG_OK)
		rc = ntg_blob_serialize(&blob, out, out_len, err);
	ntg_blob_free(&blob);
	return rc;
}

/* Element count of a 1-d tensor of the given dtype, or -1. */
static int64_t
tensor_count(const NtgBlob *blob, const char *name, NtgDtype dtype)
{
	const NtgBlobTensor *t = ntg_blob_find(blob, name);

	if (t == NULL || t->dtype != dtype || t->ndim != 1 || t->dims[0] > INT32_MAX - 1)
		return -1;
	return t->dims[0];
}

static int
corrupt(NtgError *err, const char *what)
{
	ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: the random forest is damaged");
	ntg_error_detail(err, "%s", what);
	return NTG_ERR_CORRUPT;
}

/* Structural checks of the node arrays (see the file comment). */
static int
check_nodes(const NtgForest *f, NtgError *err)
{
	if (f->tree_start[0] != 0 || f->tree_start[f->n_trees] != f->n_nodes)
		return corrupt(err, "The tree offsets do not cover the node table.");
	/* All offsets first: a later tree's bad offset must not let an earlier tree's loop run past
	 * the table. Strictly increasing from 0 to n_nodes keeps every tree inside it. */
	for (int t = 0; t < f->n_trees; t++)
		if (f->tree_start[t + 1] <= f->tree_start[t])
			return corrupt(err, "A tree has no nodes.");
	for (int t = 0; t < f->n_trees; t++)
	{
		int			lo = f->tree_start[t],
					hi = f->tree_start[t + 1];

		for (int i = lo; i < hi; i++)
		{
			if (f->feature[i] >= 0)
			{
				if (f->feature[i] >= f->n_features)
					return corrupt(err, "A split uses a feature beyond the model's sequence length.");
				if (f->left[i] <= i || f->left[i] >= hi || f->right[i] <= i || f->right[i] >= hi ||
					f->left[i] == f->right[i])
					return corrupt(err, "A split points to a child outside its tree or before itself.");
				continue;
			}
			if (f->feature[i] != -1)
				return corrupt(err, "A node has an invalid feature index.");
			if (f->left[i] < 0 || f->right[i] < 1 || f->right[i] > f->n_classes ||
				f->left[i] > f->n_entries - f->right[i])
				return corrupt(err, "A leaf's class distribution lies outside the leaf table.");
			{
				double		sum = 0;

				for (int e = f->left[i]; e < f->left[i] + f->right[i]; e++)
				{
					float		p = f->leaf_prob[e];

					if (f->leaf_class[e] < 0 || f->leaf_class[e] >= f->n_classes ||
						!(p >= 0.0f && p <= 1.0f))
						return corrupt(err, "A leaf has an invalid class or probability.");
					sum += p;
				}
				if (fabs(sum - 1.0) > 1e-3)
					return corrupt(err, "A leaf's class probabilities do not sum to 1.");
			}
		}
		ntg_check_interrupts();
	}
	return NTG_OK;
}

static int
load_arrays(const NtgBlob *blob, NtgForest *f, NtgError *err)
{
	int64_t		n_trees1 = tensor_count(blob, "tree_start", NTG_DTYPE_I32),
				n_nodes = tensor_count(blob, "feature", NTG_DTYPE_I32),
				n_entries = tensor_count(blob, "leaf_class", NTG_DTYPE_I32);

	if (n_trees1 < 2 || n_trees1 - 1 > NTG_FOREST_MAX_TREES || n_nodes < 1 || n_entries < 1 ||
		tensor_count(blob, "threshold", NTG_DTYPE_I32) != n_nodes ||
		tensor_count(blob, "left", NTG_DTYPE_I32) != n_nodes ||
		tensor_count(blob, "right", NTG_DTYPE_I32) != n_nodes ||
		tensor_count(blob, "leaf_prob", NTG_DTYPE_F32) != n_entries)
		return corrupt(err, "The node tables are missing or of inconsistent sizes.");
	f->n_trees = (int) n_trees1 - 1;
	f->n_nodes = (int) n_nodes;
	f->n_entries = (int) n_entries;
	f->tree_start = ntg_malloc(sizeof(int32_t) * n_trees1);
	f->feature = ntg_malloc(sizeof(int32_t) * n_nodes);
	f->threshold = ntg_malloc(sizeof(int32_t) * n_nodes);
	f->left = ntg_malloc(sizeof(int32_t) * n_nodes);
	f->right = ntg_malloc(sizeof(int32_t) * n_nodes);
	f->leaf_class = ntg_malloc(sizeof(int32_t) * n_entries);
	f->leaf_prob = ntg_malloc(sizeof(float) * n_entries);
	if (!f->tree_start || !f->feature || !f->threshold || !f->left || !f->right ||
		!f->leaf_class || !f->leaf_prob)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (ntg_blob_read_tensor(blob, "tree_start", NTG_DTYPE_I32, n_trees1, f->tree_start, err) ||
		ntg_blob_read_tensor(blob, "feature", NTG_DTYPE_I32, n_nodes, f->feature, err) ||
		ntg_blob_read_tensor(blob, "threshold", NTG_DTYPE_I32, n_nodes, f->threshold, err) ||
		ntg_blob_read_tensor(blob, "left", NTG_DTYPE_I32, n_nodes, f->left, err) ||
		ntg_blob_read_tensor(blob, "right", NTG_DTYPE_I32, n_nodes, f->right, err) ||
		ntg_blob_read_tensor(blob, "leaf_class", NTG_DTYPE_I32, n_entries, f->leaf_class, err) ||
		ntg_blob_read_tensor(blob, "leaf_prob", NTG_DTYPE_F32, n_entries, f->leaf_prob, err))
		return corrupt(err, "A node table could not be read.");
	if (check_nodes(f, err) != NTG_OK)
		return NTG_ERR_CORRUPT;
	return ntg_forest_pack(f, err);
}

int
ntg_forest_from_blob(const NtgBlob *blob, NtgForest *out, NtgError *err)
{
	int32_t		meta[3];
	int			rc = NTG_OK;

	memset(out, 0, sizeof(*out));
	if (strcmp(blob->kind, NTG_FOREST_KIND) != 0)
		return ntg_error(err, NTG_ERR_CORRUPT,
						 "model data is corrupt: a \"%s\" model, not a random forest", blob->kind);
	if (tensor_count(blob, "meta", NTG_DTYPE_I32) != 3 ||
		ntg_blob_read_tensor(blob, "meta", NTG_DTYPE_I32, 3, meta, err) != NTG_OK)
		rc = corrupt(err, "The header tensor is missing.");
	else if (meta[0] != FOREST_FORMAT)
		rc = corrupt(err, "Its format version is unknown.");
	else if (meta[1] < 1 || meta[1] > NTG_FOREST_MAX_FEATURES || meta[2] < 1 ||
			 meta[2] > NTG_FOREST_MAX_CLASSES)
		rc = corrupt(err, "The feature or class count is out of range.");
	else if (ntg_blob_kind_tensors(blob) != 9)
		rc = corrupt(err, "It has tensors a random forest does not have.");
	if (rc == NTG_OK)
	{
		out->n_features = meta[1];
		out->n_classes = meta[2];
		out->config.n_features = meta[1];
		if (ntg_blob_read_classes(blob, "class_names", out->n_classes, &out->classes, err) != NTG_OK)
			rc = corrupt(err, "The class names are damaged.");
	}
	if (rc == NTG_OK)
		rc = load_arrays(blob, out, err);
	if (rc != NTG_OK)
		ntg_forest_free(out);
	return rc;
}

int
ntg_forest_load(const uint8_t *buf, size_t len, NtgForest *out, NtgError *err)
{
	NtgBlob		blob;
	int			rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ntg_blob_parse(buf, len, &blob, err)) != NTG_OK)
		return rc;
	rc = ntg_forest_from_blob(&blob, out, err);
	ntg_blob_free(&blob);
	return rc;
}
