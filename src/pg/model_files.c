/*
 * model_files.c — a copy of each stored model's bytes in a file of the server's data directory,
 * mapped read-only by the backends that load the model.
 *
 * Reading a model out of ntg.models means reading its TOAST chunks: for a 5 MB llama about 2,500
 * of them, 10-30 ms, in every new backend.  So a model's bytes also go to
 * pg_stat_tmp/ntg_model_<db>_<name>_<xmin>_<ctid>_<updated>_<v>_<len> (written under a temporary
 * name and renamed, so a reader never sees half a file): when the row is stored (model_store.c),
 * or by the first backend that loads a row version without one.  Backends map that file instead
 * of reading the table: no copy, and every backend shares the same pages of the page cache.  The
 * bytes are checked (checksum, every size and value) on every load as always, and a file that
 * fails is removed and written again from the table.
 *
 * What a role may read is still decided by the row lookup in ntg.models, with its privileges and
 * row security; a file is named by the identity of a row version the role has just been allowed
 * to see (NTG_MODEL_ROW_ID), so a role never reaches a file it could not read as a row.
 *
 * pg_stat_tmp is where extensions keep such files (pg_stat_statements keeps its query texts
 * there): its contents are left out of base backups and pg_rewind, and, unlike the temporary
 * files' directory, it is not emptied when the server starts, so the first backend after a
 * restart maps the file too.  The files are a cache: their total size is bounded by
 * ntg.model_file_cache (oldest removed first; 0 turns the cache off), and removing them is
 * always safe.
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "common/file_perm.h"
#include "pgstat.h"
#include "storage/fd.h"

#include "models_sql.h"

int			ntg_model_file_cache_kb = 1024 * 1024;

#define MODEL_FILE_DIR PG_STAT_TMP_DIR
#define MODEL_FILE_PREFIX "ntg_model_"

/* A stable hash of the model name for the file name (names are any text). */
static uint64
name_hash(const char *s)
{
	uint64		h = UINT64CONST(1469598103934665603);

	for (; *s; s++)
		h = (h ^ (uint8) *s) * UINT64CONST(1099511628211);
	return h;
}

static char *
file_path(const NtgModelRow *row, int64 len, const char *suffix)
{
	char	   *id = pstrdup(row->tuple_id);

	/* "xmin:(block,offset):updated" -> "xmin_xblock_offsetx_updated" */
	for (char *p = id; *p; p++)
		if (*p == ':' || *p == ',')
			*p = '_';
		else if (*p == '(' || *p == ')')
			*p = 'x';
	return psprintf("%s/%s%u_%016llx_%s_%lld_%lld%s", MODEL_FILE_DIR, MODEL_FILE_PREFIX,
					MyDatabaseId, (unsigned long long) name_hash(row->name), id,
					(long long) row->version, (long long) len, suffix);
}

typedef struct Mapping
{
	void	   *addr;
	size_t		len;
} Mapping;

static void
unmap(void *arg)
{
	Mapping    *m = (Mapping *) arg;

	munmap(m->addr, m->len);
}

const uint8 *
ntg_pg_model_file_map(const NtgModelRow *row, int64 len, MemoryContext owner)
{
	char	   *path;
	int			fd;
	struct stat st;
	void	   *addr;
	Mapping    *m;
	MemoryContextCallback *cb;

	if (ntg_model_file_cache_kb <= 0 || len <= 0)
		return NULL;
	path = file_path(row, len, "");
	fd = open(path, O_RDONLY | PG_BINARY, 0);
	pfree(path);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size != len)
	{
		close(fd);
		return NULL;
	}
	/*
	 * Every page is read at once (the loader's checksum), so map them all in one system call
	 * rather than in ~len / 64 kB page faults, several microseconds each on a virtual machine.
	 */
#ifdef MAP_POPULATE
	addr = mmap(NULL, (size_t) len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
#else
	addr = mmap(NULL, (size_t) len, PROT_READ, MAP_SHARED, fd, 0);
#endif
	close(fd);
	if (addr == MAP_FAILED)
		return NULL;
	/* unmapped when the owner (the cache entry's context) goes */
	m = MemoryContextAlloc(owner, sizeof(Mapping));
	m->addr = addr;
	m->len = (size_t) len;
	cb = MemoryContextAlloc(owner, sizeof(MemoryContextCallback));
	cb->func = unmap;
	cb->arg = m;
	MemoryContextRegisterResetCallback(owner, cb);
	return (const uint8 *) addr;
}

void
ntg_pg_model_file_forget(const NtgModelRow *row, int64 len)
{
	char	   *path = file_path(row, len, "");

	(void) unlink(path);
	pfree(path);
}

/* Remove the oldest model files until `incoming` more bytes fit ntg.model_file_cache. */
static void
make_room(int64 incoming)
{
	int64		limit = (int64) ntg_model_file_cache_kb * 1024;

	for (int round = 0; round < 64; round++)
	{
		DIR		   *dir = AllocateDir(MODEL_FILE_DIR);
		struct dirent *de;
		int64		total = incoming;
		time_t		oldest_time = 0;
		char	   *oldest = NULL;

		if (dir == NULL)
			return;
		while ((de = ReadDirExtended(dir, MODEL_FILE_DIR, LOG)) != NULL)
		{
			char	   *path;
			struct stat st;

			if (strncmp(de->d_name, MODEL_FILE_PREFIX, strlen(MODEL_FILE_PREFIX)) != 0)
				continue;
			path = psprintf("%s/%s", MODEL_FILE_DIR, de->d_name);
			if (stat(path, &st) == 0)
			{
				total += st.st_size;
				if (oldest == NULL || st.st_mtime < oldest_time)
				{
					oldest = pstrdup(path);
					oldest_time = st.st_mtime;
				}
			}
			pfree(path);
		}
		FreeDir(dir);
		if (total <= limit || oldest == NULL)
			return;
		(void) unlink(oldest);	/* a backend that maps it keeps its pages */
	}
}

void
ntg_pg_model_file_store(const NtgModelRow *row, const uint8 *data, int64 len)
{
	char	   *path,
			   *tmp;
	int			fd;
	int64		done = 0;

	if (ntg_model_file_cache_kb <= 0 || len <= 0 || len > (int64) ntg_model_file_cache_kb * 1024)
		return;
	path = file_path(row, len, "");
	if (access(path, F_OK) == 0)
		return;
	(void) MakePGDirectory(MODEL_FILE_DIR);
	make_room(len);
	tmp = file_path(row, len, psprintf(".%d.tmp", MyProcPid));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, pg_file_create_mode);
	if (fd < 0)
		return;					/* a cache: not being able to write it is no error */
	while (done < len)
	{
		ssize_t		n = write(fd, data + done, (size_t) (len - done));

		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	if (done != len || rename(tmp, path) != 0)
		(void) unlink(tmp);
}
