/*
 * make_corpus.c — write the seed corpus of the loader fuzz target: real saved tiny models.
 * Usage: make_corpus DIR
 */
#include <stdio.h>

#include "../unit/model_fixture.h"

int
main(int argc, char **argv)
{
	uint8_t    *buf;
	size_t		len;
	NtgError	err;
	char		path[4096];
	FILE	   *f;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (fixture_model_bytes("llama", &buf, &len, &err) != NTG_OK)
	{
		fprintf(stderr, "could not build the fixture model: %s\n", err.msg);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/llama_tiny.ntgmodel", argv[1]);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		return 1;
	}
	printf("%s: %zu bytes\n", path, len);
	ntg_free(buf);
	return 0;
}
