/*
 * blob_names.c — tensors of names in the model container: class names (every kind stores its
 * classes this way), and which tensors belong to a kind rather than to the framework.
 */
#include "common/blob.h"

#include <string.h>

static int
corrupt(NtgError *err, const char *what)
{
	return ntg_error(err, NTG_ERR_CORRUPT, "model data is corrupt: %s", what);
}

/* Is s[0..len) valid UTF-8 (no NUL, no overlong forms or surrogates)?  Class names become text
 * values in the database, so a stored name must be valid text. */
static int
valid_utf8(const uint8_t *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		uint8_t		c = s[i];
		int			n;
		uint32_t	cp;

		if (c == 0)
			return 0;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if (i + n >= len)
			return 0;
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
ntg_blob_kind_tensors(const NtgBlob *blob)
{
	int			n = 0;

	for (int i = 0; i < blob->n_tensors; i++)
		n += strncmp(blob->tensors[i].name, "sampling.", 9) != 0;
	return n;
}

int
ntg_blob_add_classes(NtgBlob *blob, const char *tensor, char *const *classes, int n,
					 NtgError *err)
{
	size_t		len = 0,
				pos = 0;
	uint8_t    *names;
	uint32_t	dims[1];
	int			rc;

	for (int i = 0; i < n; i++)
		len += strlen(classes[i]) + 1;
	if ((names = ntg_malloc(len)) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
	{
		size_t		l = strlen(classes[i]) + 1;

		memcpy(names + pos, classes[i], l);
		pos += l;
	}
	dims[0] = (uint32_t) len;
	rc = ntg_blob_add_copy(blob, tensor, NTG_DTYPE_U8, 1, dims, names, err);
	ntg_free(names);
	return rc;
}

int
ntg_blob_read_classes(const NtgBlob *blob, const char *tensor, int n, char ***classes,
					  NtgError *err)
{
	const NtgBlobTensor *t = ntg_blob_find(blob, tensor);
	const char *names;
	size_t		len,
				pos = 0;
	char	  **out;

	*classes = NULL;
	if (t == NULL || t->dtype != NTG_DTYPE_U8 || t->ndim != 1)
		return corrupt(err, "the class names are missing");
	names = (const char *) t->data;
	len = (size_t) t->nbytes;
	if ((out = ntg_calloc(n > 0 ? n : 1, sizeof(char *))) == NULL)
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	for (int k = 0; k < n; k++)
	{
		const char *end = pos < len ? memchr(names + pos, '\0', len - pos) : NULL;

		/* every name valid UTF-8, NUL-terminated inside the tensor, strictly ascending (so only
		 * the first can be empty) */
		if (end == NULL || !valid_utf8((const uint8_t *) names + pos, (size_t) (end - names) - pos) ||
			(k > 0 && strcmp(out[k - 1], names + pos) >= 0))
		{
			for (int i = 0; i < k; i++)
				ntg_free(out[i]);
			ntg_free(out);
			return corrupt(err, "the class names are damaged");
		}
		if ((out[k] = ntg_strdup(names + pos)) == NULL)
		{
			for (int i = 0; i < k; i++)
				ntg_free(out[i]);
			ntg_free(out);
			return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
		}
		pos = (size_t) (end - names) + 1;
	}
	if (pos != len)
	{
		for (int i = 0; i < n; i++)
			ntg_free(out[i]);
		ntg_free(out);
		return corrupt(err, "the class names do not match the class count");
	}
	*classes = out;
	return NTG_OK;
}

