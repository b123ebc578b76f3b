/*
 * make_corpus.c — write the seed corpus of the loader fuzz target: a real saved tiny model of every
 * kind of the registry, and the llama in format 1 (which the loader still reads).
 * Usage: make_corpus DIR
 */
#include <stdio.h>

#include "../unit/model_fixture.h"

static int
write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		return -1;
	}
	printf("%s: %zu bytes\n", path, len);
	return 0;
}

int
main(int argc, char **argv)
{
	uint8_t    *buf,
			   *old;
	size_t		len,
				old_len;
	NtgError	err;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < ntg_model_kind_count(); i++)
	{
		const NtgModelKind *kind = ntg_model_kind_at(i);
		char		name[128];

		if (fixture_tiny_model_bytes(kind, &buf, &len, &err) != NTG_OK)
		{
			fprintf(stderr, "could not build a tiny %s model: %s\n", kind->name, err.msg);
			return 1;
		}
		snprintf(name, sizeof(name), "%s_tiny.ntgmodel", kind->name);
		if (write_seed(argv[1], name, buf, len) != 0)
			return 1;
		ntg_free(buf);
	}
	if (fixture_model_bytes("llama", &buf, &len, &err) != NTG_OK)
	{
		fprintf(stderr, "could not build the fixture model: %s\n", err.msg);
		return 1;
	}
	if (fixture_llama_as_format(buf, len, 1, 9, &old, &old_len, &err) != NTG_OK)
	{
		fprintf(stderr, "could not rewrite the fixture as format 1: %s\n", err.msg);
		return 1;
	}
	if (write_seed(argv[1], "llama_tiny_format1.ntgmodel", old, old_len) != 0)
		return 1;
	ntg_free(buf);
	ntg_free(old);
	return 0;
}
