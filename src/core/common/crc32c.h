/* crc32c.h — CRC-32C (Castagnoli), the checksum of the model container. */
#ifndef NTG_CRC32C_H
#define NTG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of data, continuing from crc (0 to start): the hardware instruction when there is one. */
uint32_t	ntg_crc32c(uint32_t crc, const void *data, size_t len);
/* The same computed with tables only, whatever the CPU (the reference in tests). */
uint32_t	ntg_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
