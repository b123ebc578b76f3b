/*
 * blob.c — write and verify the model container described in blob.h.
 */
#include "common/blob.h"

#include <string.h>

#include "common/crc32c.h"

size_t
ntg_dtype_size(NtgDtype dtype)
{
	switch (dtype)
	{
		case NTG_DTYPE_F32:
		case NTG_DTYPE_I32:
			return 4;
		case NTG_DTYPE_I8:
		case NTG_DTYPE_U8:
			return 1;
		case NTG_DTYPE_I16:
			return 2;
		case NTG_DTYPE_F64:
			return 8;
	}
	return 0;
}

static int
valid_identifier(const char *s, size_t len, size_t max, int allow_dot)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
			  (allow_dot && (c == '.' || (c >= 'A' && c <= 'Z')))))
			return 0;
	}
	return 1;
}

/* ---- writing ------------------------------------------------------------------------------- */

void
ntg_blob_init(NtgBlob *blob, const char *kind, const char *config)
{
	memset(blob, 0, sizeof(*blob));
	strncpy(blob->kind, kind, NTG_BLOB_MAX_KIND);
	blob->config = (char *) config;	/* borrowed on write; ntg_blob_free leaves it alone */
}

int
ntg_blob_add(NtgBlob *blob, const char *name, NtgDtype dtype, int ndim,
			 const uint32_t *dims, const void *data, NtgError *err)
{
	NtgBlobTensor *t;
	uint64_t	count = 1;

	if (!valid_identifier(name, strlen(name), NTG_BLOB_MAX_NAME, 1))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid tensor name \"%s\"", name);
	if (ndim < 1 || ndim > NTG_BLOB_MAX_NDIM || ntg_dtype_size(dtype) == 0)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid shape or type for tensor \"%s\"", name);
	if (blob->n_tensors >= NTG_BLOB_MAX_TENSORS)
		return ntg_error(err, NTG_ERR_INVALID_ARG, "too many tensors");
	if (blob->n_tensors % 32 == 0)
	{
		NtgBlobTensor *grown = ntg_realloc(blob->tensors,
										   (blob->n_tensors + 32) * sizeof(NtgBlobTensor));

		if (grown == NULL)
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		blob->tensors = grown;
	}
	t = &blob->tensors[blob->n_tensors++];
	memset(t, 0, sizeof(*t));
	strcpy(t->name, name);
	t->dtype = dtype;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
	{
		t->dims[i] = dims[i];
		count *= dims[i];
	}
	t->data = data;
	t->nbytes = count * ntg_dtype_size(dtype);
	return NTG_OK;
}

int
ntg_blob_add_copy(NtgBlob *blob, const char *name, NtgDtype dtype, int ndim,
				  const uint32_t *dims, const void *data, NtgError *err)
{
	void	  **owned;
	void	   *copy;
	uint64_t	nbytes = ntg_dtype_size(dtype);
	int			rc;

	for (int i = 0; i < ndim && i < NTG_BLOB_MAX_NDIM; i++)
		nbytes *= dims[i];
	owned = ntg_realloc(blob->owned, (blob->n_owned + 1) * sizeof(void *));
	if (owned == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	blob->owned = owned;
	if ((copy = ntg_malloc((size_t) nbytes)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	if (nbytes > 0)
		memcpy(copy, data, (size_t) nbytes);
	blob->owned[blob->n_owned++] = copy;
	rc = ntg_blob_add(blob, name, dtype, ndim, dims, copy, err);
	return rc;
}

void
ntg_blob_take_config(NtgBlob *blob, char *config)
{
	if (blob->owns_config)
		ntg_free(blob->config);
	blob->config = config;
	blob->owns_config = 1;
}

typedef struct Writer
{
	uint8_t    *buf;
	size_t		pos;
} Writer;

static void
put(Writer *w, const void *p, size_t n)
{
	memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

static void
put_u8(Writer *w, uint8_t v)
{
	put(w, &v, 1);
}

static void
put_le(Writer *w, uint64_t v, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		w->buf[w->pos++] = (uint8_t) (v >> (8 * i));
}

static size_t
header_size(const NtgBlob *blob)
{
	size_t		n = 8 + 4 + 4 + 2 + strlen(blob->kind) + 4 + strlen(blob->config) + 4;

	for (int i = 0; i < blob->n_tensors; i++)
		n += 2 + strlen(blob->tensors[i].name) + 1 + 1 + 4 * blob->tensors[i].ndim + 8 + 8;
	return (n + 7) & ~(size_t) 7;
}

void
ntg_blob_align_last(NtgBlob *blob)
{
	if (blob->n_tensors > 0)
		blob->tensors[blob->n_tensors - 1].aligned = 1;
}

/* Offset into the data region of each tensor (a header of hdr bytes before it); the region's
 * length. */
static uint64_t
place_for_write(const NtgBlob *blob, size_t hdr, uint64_t *offsets)
{
	uint64_t	offset = 0;

	for (int i = 0; i < blob->n_tensors; i++)
	{
		const NtgBlobTensor *t = &blob->tensors[i];

		if (t->aligned)
			offset += (NTG_BLOB_ALIGN - (hdr + offset) % NTG_BLOB_ALIGN) % NTG_BLOB_ALIGN;
		offsets[i] = offset;
		offset += (t->nbytes + 7) & ~(uint64_t) 7;
	}
	return offset;
}

int
ntg_blob_serialize(const NtgBlob *blob, uint8_t **out, size_t *out_len, NtgError *err)
{
	size_t		hdr = header_size(blob);
	uint64_t   *offsets;
	uint64_t	data_len;
	size_t		total;
	Writer		w;

	if (!valid_identifier(blob->kind, strlen(blob->kind), NTG_BLOB_MAX_KIND, 0))
		return ntg_error(err, NTG_ERR_INVALID_ARG, "invalid model kind \"%s\"", blob->kind);
	offsets = ntg_malloc((blob->n_tensors + 1) * sizeof(uint64_t));
	if (offsets == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	data_len = place_for_write(blob, hdr, offsets);
	total = hdr + data_len + 4;
	w.buf = ntg_calloc(1, total);
	if (w.buf == NULL)
	{
		ntg_free(offsets);
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	}
	w.pos = 0;

	put(&w, NTG_BLOB_MAGIC, 8);
	put_le(&w, NTG_BLOB_VERSION, 4);
	put_le(&w, 0, 4);
	put_le(&w, strlen(blob->kind), 2);
	put(&w, blob->kind, strlen(blob->kind));
	put_le(&w, strlen(blob->config), 4);
	put(&w, blob->config, strlen(blob->config));
	put_le(&w, blob->n_tensors, 4);
	for (int i = 0; i < blob->n_tensors; i++)
	{
		const NtgBlobTensor *t = &blob->tensors[i];

		put_le(&w, strlen(t->name), 2);
		put(&w, t->name, strlen(t->name));
		put_u8(&w, (uint8_t) t->dtype);
		put_u8(&w, (uint8_t) t->ndim);
		for (int d = 0; d < t->ndim; d++)
			put_le(&w, t->dims[d], 4);
		put_le(&w, offsets[i], 8);
		put_le(&w, t->nbytes, 8);
	}
	for (int i = 0; i < blob->n_tensors; i++)
	{
		const NtgBlobTensor *t = &blob->tensors[i];

		if (t->nbytes > 0)
			memcpy(w.buf + hdr + offsets[i], t->data, t->nbytes);
	}
	w.pos = hdr + data_len;
	put_le(&w, ntg_crc32c(0, w.buf, w.pos), 4);
	ntg_free(offsets);
	*out = w.buf;
	*out_len = total;
	return NTG_OK;
}

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct Reader
{
	const uint8_t *buf;
	size_t		len;
	size_t		pos;
	int			short_read;
} Reader;

static const uint8_t *
take(Reader *r, size_t n)
{
	const uint8_t *p;

	if (r->short_read || n > r->len - r->pos)
	{
		r->short_read = 1;
		return NULL;
	}
	p = r->buf + r->pos;
	r->pos += n;
	return p;
}

static uint64_t
take_le(Reader *r, int nbytes)
{
	const uint8_t *p = take(r, nbytes);
	uint64_t	v = 0;

	if (p == NULL)
		return 0;
	for (int i = 0; i < nbytes; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

static int
parse_tensor_entry(Reader *r, NtgBlobTensor *t, NtgError *err)
{
	size_t		name_len = take_le(r, 2);
	const uint8_t *name = take(r, name_len);
	uint64_t	count = 1;

	if (name == NULL || !valid_identifier((const char *) name, name_len, NTG_BLOB_MAX_NAME, 1))
		return corrupt(err, "bad tensor name");
	memcpy(t->name, name, name_len);
	t->name[name_len] = '\0';
	t->dtype = (NtgDtype) take_le(r, 1);
	t->ndim = (int) take_le(r, 1);
	if (ntg_dtype_size(t->dtype) == 0 || t->ndim < 1 || t->ndim > NTG_BLOB_MAX_NDIM)
		return corrupt(err, "bad tensor type or rank");
	for (int d = 0; d < t->ndim; d++)
	{
		t->dims[d] = (uint32_t) take_le(r, 4);
		if (t->dims[d] != 0 && count > UINT64_MAX / 16 / t->dims[d])
			return corrupt(err, "tensor too large");
		count *= t->dims[d];
	}
	t->data = (const void *) (uintptr_t) take_le(r, 8);	/* offset for now */
	t->nbytes = take_le(r, 8);
	if (r->short_read)
		return corrupt(err, "tensor table is truncated");
	if (t->nbytes != count * ntg_dtype_size(t->dtype))
		return corrupt(err, "tensor size does not match its shape");
	return NTG_OK;
}

/* Tensors must lie inside the data region, in order, without overlapping. */
static int
place_tensors(NtgBlob *blob, const uint8_t *data, uint64_t data_len, NtgError *err)
{
	uint64_t	next_free = 0;

	for (int i = 0; i < blob->n_tensors; i++)
	{
		NtgBlobTensor *t = &blob->tensors[i];
		uint64_t	offset = (uint64_t) (uintptr_t) t->data;

		if (offset < next_free || offset > data_len || t->nbytes > data_len - offset)
			return corrupt(err, "tensor lies outside the data region");
		t->data = data + offset;
		next_free = offset + t->nbytes;
	}
	return NTG_OK;
}

int
ntg_blob_parse(const uint8_t *buf, size_t len, NtgBlob *blob, NtgError *err)
{
	Reader		r = {buf, 0, 0, 0};
	const uint8_t *p;
	size_t		kind_len,
				config_len,
				hdr_end;
	uint32_t	stored_crc;
	int			rc;

	memset(blob, 0, sizeof(*blob));
	if (len < 8 + 4 + 4 || memcmp(buf, NTG_BLOB_MAGIC, 8) != 0)
		return ntg_error(err, NTG_ERR_CORRUPT, "value is not an ntg model");
	if (len < 8 + 4 + 4 + 2 + 4 + 4 + 4)
		return corrupt(err, "too short");
	stored_crc = (uint32_t) buf[len - 4] | (uint32_t) buf[len - 3] << 8 |
		(uint32_t) buf[len - 2] << 16 | (uint32_t) buf[len - 1] << 24;
	r.len = len - 4;
	take(&r, 8);
	if (take_le(&r, 4) != NTG_BLOB_VERSION)
		return ntg_error(err, NTG_ERR_CORRUPT, "unsupported model format version %u",
						 (unsigned) (buf[8] | buf[9] << 8 | buf[10] << 16 | (uint32_t) buf[11] << 24));
	if (ntg_crc32c(0, buf, len - 4) != stored_crc)
		return corrupt(err, "checksum mismatch");
	take_le(&r, 4);				/* flags: none defined yet */

	kind_len = take_le(&r, 2);
	p = take(&r, kind_len);
	if (p == NULL || !valid_identifier((const char *) p, kind_len, NTG_BLOB_MAX_KIND, 0))
		return corrupt(err, "bad model kind");
	memcpy(blob->kind, p, kind_len);
	blob->kind[kind_len] = '\0';

	config_len = take_le(&r, 4);
	p = take(&r, config_len);
	if (p == NULL || memchr(p, '\0', config_len) != NULL)
		return corrupt(err, "bad config");
	blob->config = ntg_malloc(config_len + 1);
	if (blob->config == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	blob->owns_config = 1;
	memcpy(blob->config, p, config_len);
	blob->config[config_len] = '\0';

	blob->n_tensors = (int) take_le(&r, 4);
	if (r.short_read || blob->n_tensors < 0 || blob->n_tensors > NTG_BLOB_MAX_TENSORS)
	{
		blob->n_tensors = 0;
		rc = corrupt(err, "bad tensor count");
		goto fail;
	}
	blob->tensors = ntg_calloc(blob->n_tensors ? blob->n_tensors : 1, sizeof(NtgBlobTensor));
	if (blob->tensors == NULL)
	{
		rc = ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < blob->n_tensors; i++)
		if ((rc = parse_tensor_entry(&r, &blob->tensors[i], err)) != NTG_OK)
			goto fail;
	hdr_end = (r.pos + 7) & ~(size_t) 7;
	if (hdr_end > r.len)
	{
		rc = corrupt(err, "truncated");
		goto fail;
	}
	if ((rc = place_tensors(blob, buf + hdr_end, r.len - hdr_end, err)) != NTG_OK)
		goto fail;
	return NTG_OK;

fail:
	ntg_blob_free(blob);
	return rc;
}

const NtgBlobTensor *
ntg_blob_find(const NtgBlob *blob, const char *name)
{
	for (int i = 0; i < blob->n_tensors; i++)
		if (strcmp(blob->tensors[i].name, name) == 0)
			return &blob->tensors[i];
	return NULL;
}

int
ntg_blob_read_tensor(const NtgBlob *blob, const char *name, NtgDtype dtype,
					 uint64_t count, void *dst, NtgError *err)
{
	const NtgBlobTensor *t = ntg_blob_find(blob, name);

	if (t == NULL)
		return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: tensor \"%s\" is missing", name);
	if (t->dtype != dtype || t->nbytes != count * ntg_dtype_size(dtype))
		return ntg_error(err, NTG_ERR_CORRUPT,
						 "model data is corrupt: tensor \"%s\" has the wrong type or size", name);
	if (t->nbytes > 0)
		memcpy(dst, t->data, t->nbytes);
	return NTG_OK;
}

void
ntg_blob_free(NtgBlob *blob)
{
	if (blob->owns_config)
		ntg_free(blob->config);
	blob->config = NULL;
	blob->owns_config = 0;
	ntg_free(blob->tensors);
	blob->tensors = NULL;
	blob->n_tensors = 0;
	for (int i = 0; i < blob->n_owned; i++)
		ntg_free(blob->owned[i]);
	ntg_free(blob->owned);
	blob->owned = NULL;
	blob->n_owned = 0;
}
