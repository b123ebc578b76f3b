/* crc32c.h — CRC-32C (Castagnoli), the checksum of the model container. */
#ifndef NTG_CRC32C_H
#define NTG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t	ntg_crc32c(uint32_t crc, const void *data, size_t len);

#endif
