/*
 * blob.h — the checked container in which every ntg model (generators and forests) is stored as
 * bytea: magic, format version, kind, JSON config, a table of named tensors, raw data, CRC-32C.
 *
 * Layout (little-endian; docs/model-format.md has the full description):
 *   "NTGMODEL" | u32 version | u32 flags | u16 kind_len, kind | u32 config_len, config |
 *   u32 n_tensors | n x { u16 name_len, name | u8 dtype | u8 ndim | u32 dims[ndim] | u64 offset |
 *   u64 nbytes } | zero pad to 8 | data | u32 crc32c(all bytes before it)
 *
 * ntg_blob_parse() trusts nothing: every length, offset, count and the checksum is checked before
 * anything is used, and tensor views are only handed out for in-bounds, non-overlapping ranges.
 */
#ifndef NTG_BLOB_H
#define NTG_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"

#define NTG_BLOB_MAGIC			"NTGMODEL"
#define NTG_BLOB_VERSION		1
#define NTG_BLOB_MAX_TENSORS	4096
#define NTG_BLOB_MAX_NDIM		4
#define NTG_BLOB_MAX_KIND		31
#define NTG_BLOB_MAX_NAME		63
/* The boundary ntg_blob_align_last() asks for: a cache line and an AVX-512 vector. */
#define NTG_BLOB_ALIGN			64

typedef enum NtgDtype
{
	NTG_DTYPE_F32 = 1,
	NTG_DTYPE_I8 = 2,
	NTG_DTYPE_I32 = 3,
	NTG_DTYPE_U8 = 4,
	NTG_DTYPE_F64 = 5,
	NTG_DTYPE_I16 = 6
} NtgDtype;

size_t		ntg_dtype_size(NtgDtype dtype);	/* 0 for an unknown dtype */

/* A named tensor: on write, data points to the caller's array; on read, into the parsed buffer
 * (possibly unaligned: use ntg_blob_read_tensor() to copy it out). */
typedef struct NtgBlobTensor
{
	char		name[NTG_BLOB_MAX_NAME + 1];
	NtgDtype	dtype;
	int			ndim;
	uint32_t	dims[NTG_BLOB_MAX_NDIM];
	const void *data;
	uint64_t	nbytes;
	int			aligned;		/* on write: starts at an NTG_BLOB_ALIGN-byte boundary of the
								 * serialized value (ntg_blob_align_last) */
} NtgBlobTensor;

typedef struct NtgBlob
{
	char		kind[NTG_BLOB_MAX_KIND + 1];
	char	   *config;			/* JSON text: borrowed on write, an ntg_malloc'd copy after parse */
	int			owns_config;
	int			n_tensors;
	NtgBlobTensor *tensors;		/* ntg_malloc'd array */
	int			n_owned;		/* on write: copies made by ntg_blob_add_copy() */
	void	  **owned;
	int			borrow;			/* on read: the caller keeps the buffer alive as long as the
								 * model, which may point into it rather than copy */
} NtgBlob;

/* ---- writing ------------------------------------------------------------------------------- */

/* Start a blob; kind is [a-z0-9_]{1,31}; config is JSON text (not checked here). */
void		ntg_blob_init(NtgBlob *blob, const char *kind, const char *config);
/* Add a tensor; data must stay valid until ntg_blob_serialize(). */
int			ntg_blob_add(NtgBlob *blob, const char *name, NtgDtype dtype, int ndim,
						 const uint32_t *dims, const void *data, NtgError *err);
/* Add a copy of data (freed by ntg_blob_free): for temporaries that do not outlive the call. */
int			ntg_blob_add_copy(NtgBlob *blob, const char *name, NtgDtype dtype, int ndim,
							  const uint32_t *dims, const void *data, NtgError *err);
/*
 * Start the tensor added last at an NTG_BLOB_ALIGN-byte boundary of the serialized value (zeros
 * before it): a model that computes straight from its stored bytes (a mapped model file) reads
 * its weights from aligned rows, where vector loads do not straddle cache lines.  Readers need
 * nothing: offsets are explicit and gaps between tensors are allowed.
 */
void		ntg_blob_align_last(NtgBlob *blob);
/* Hand an ntg_malloc'd config JSON text over to the blob (freed by ntg_blob_free). */
void		ntg_blob_take_config(NtgBlob *blob, char *config);
/* Serialize into one ntg_malloc'd buffer. */
int			ntg_blob_serialize(const NtgBlob *blob, uint8_t **out, size_t *out_len, NtgError *err);

/* ---- reading ------------------------------------------------------------------------------- */

/* Parse and verify buf; on success blob holds views into buf (keep buf alive). On failure returns
 * NTG_ERR_CORRUPT with a message saying what was wrong. */
int			ntg_blob_parse(const uint8_t *buf, size_t len, NtgBlob *blob, NtgError *err);
/* Find a tensor by name, or NULL. */
const NtgBlobTensor *ntg_blob_find(const NtgBlob *blob, const char *name);
/* Copy tensor `name` into dst after checking it exists, has dtype and exactly `count` elements. */
int			ntg_blob_read_tensor(const NtgBlob *blob, const char *name, NtgDtype dtype,
								 uint64_t count, void *dst, NtgError *err);
/* ---- names (blob_names.c) ------------------------------------------------------------------ */

/* Class names as one u8 tensor: each valid UTF-8, NUL-terminated, strictly ascending (so only
 * the first may be empty).  Every model kind stores its classes this way. */
int			ntg_blob_add_classes(NtgBlob *blob, const char *tensor, char *const *classes,
								 int n, NtgError *err);
int			ntg_blob_read_classes(const NtgBlob *blob, const char *tensor, int n,
								  char ***classes, NtgError *err);
/* Tensors of a parsed blob that belong to its kind, not to the framework ("sampling.*"). */
int			ntg_blob_kind_tensors(const NtgBlob *blob);

/* Free what init/parse allocated (not the buffer). */
void		ntg_blob_free(NtgBlob *blob);

#endif							/* NTG_BLOB_H */
