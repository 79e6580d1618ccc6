/**
 * The spec's `compression_config`: compression per data type, used when compression_algorithm is "auto".
 * The adaptive compressor already tells three kinds of data apart (server/engine/repository/compression.ts): text,
 * other binary data, and data that does not compress (media, archives, encrypted files). Each may get its
 * own algorithm and level; a type left out keeps the adaptive choice.
 */
import * as z from 'zod';

/** The spec's names for the three kinds of data, in the order they are described. */
export const COMPRESSION_CLASSES = ['text_data', 'binary_data', 'media_files'] as const;
export type CompressionClass = (typeof COMPRESSION_CLASSES)[number];

const rule = z.strictObject({
  algorithm: z.enum(['zstd', 'lz4', 'gzip', 'none'], { error: 'must be one of zstd, lz4, gzip, none' }),
  /** zstd: 1–19; gzip: 1–9 (higher is capped at 9); lz4 and none take no level. */
  level: z.number().int().min(1).max(19, { error: 'must be a whole number from 1 to 19' }).optional(),
});
export type CompressionRule = z.infer<typeof rule>;

export const compressionConfigSchema = z.partialRecord(z.enum(COMPRESSION_CLASSES, { error: `must be one of ${COMPRESSION_CLASSES.join(', ')}` }), rule);
export type CompressionConfig = z.infer<typeof compressionConfigSchema>;
