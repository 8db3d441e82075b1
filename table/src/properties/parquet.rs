//! The Parquet writer settings of a table: target file size and Parquet compression,
//! row-group, page and dictionary sizes, from the table's properties (names and defaults
//! in the parent module). A bad value is an error naming the property.

use std::collections::HashMap;

use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{
    positive, PropertyError, COMPRESSION_CODEC, COMPRESSION_LEVEL, DEFAULT_COMPRESSION_CODEC,
    DEFAULT_DICT_SIZE, DEFAULT_PAGE_ROW_LIMIT, DEFAULT_PAGE_SIZE, DEFAULT_ROW_GROUP_SIZE,
    DEFAULT_TARGET_FILE_SIZE, DEFAULT_ZSTD_LEVEL, DICT_SIZE, PAGE_ROW_LIMIT, PAGE_SIZE,
    ROW_GROUP_SIZE, TARGET_FILE_SIZE,
};

/// `write.target-file-size-bytes`.
pub fn target_file_size(props: &HashMap<String, String>) -> Result<usize, PropertyError> {
    positive(props, TARGET_FILE_SIZE, DEFAULT_TARGET_FILE_SIZE)
}

fn compression(props: &HashMap<String, String>) -> Result<Compression, PropertyError> {
    let codec = props.get(COMPRESSION_CODEC).map(|c| c.to_ascii_lowercase());
    let level = match props.get(COMPRESSION_LEVEL) {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i32>()
                .map_err(|_| PropertyError::new(COMPRESSION_LEVEL, v, "must be a whole number"))?,
        ),
    };
    let bad_level = |e: parquet::errors::ParquetError| {
        let value = level.map(|l| l.to_string()).unwrap_or_default();
        PropertyError::new(COMPRESSION_LEVEL, &value, e.to_string())
    };
    Ok(
        match codec.as_deref().unwrap_or(DEFAULT_COMPRESSION_CODEC) {
            "zstd" => Compression::ZSTD(
                ZstdLevel::try_new(level.unwrap_or(DEFAULT_ZSTD_LEVEL)).map_err(bad_level)?,
            ),
            "gzip" => Compression::GZIP(match level {
                Some(l) => GzipLevel::try_new(l as u32).map_err(bad_level)?,
                None => GzipLevel::default(),
            }),
            "brotli" => Compression::BROTLI(match level {
                Some(l) => BrotliLevel::try_new(l as u32).map_err(bad_level)?,
                None => BrotliLevel::default(),
            }),
            "snappy" => Compression::SNAPPY,
            "lz4" => Compression::LZ4_RAW,
            "uncompressed" | "none" => Compression::UNCOMPRESSED,
            other => {
                return Err(PropertyError::new(
                    COMPRESSION_CODEC,
                    other,
                    "expected zstd, snappy, gzip, lz4, brotli or uncompressed",
                ))
            }
        },
    )
}

/// Parquet writer properties from the table properties.
pub fn parquet_properties(
    props: &HashMap<String, String>,
) -> Result<WriterProperties, PropertyError> {
    Ok(WriterProperties::builder()
        .set_compression(compression(props)?)
        .set_max_row_group_bytes(Some(positive(
            props,
            ROW_GROUP_SIZE,
            DEFAULT_ROW_GROUP_SIZE,
        )?))
        .set_data_page_size_limit(positive(props, PAGE_SIZE, DEFAULT_PAGE_SIZE)?)
        .set_data_page_row_count_limit(positive(props, PAGE_ROW_LIMIT, DEFAULT_PAGE_ROW_LIMIT)?)
        .set_dictionary_page_size_limit(positive(props, DICT_SIZE, DEFAULT_DICT_SIZE)?)
        .build())
}

#[cfg(test)]
mod tests {
    use parquet::schema::types::ColumnPath;

    use super::*;
    use crate::testing::string_map as props;

    #[test]
    fn compression_follows_the_table() {
        let col = ColumnPath::from("x");
        let cases = [
            (
                vec![],
                Some(Compression::ZSTD(ZstdLevel::try_new(1).unwrap())),
            ),
            (
                vec![(COMPRESSION_LEVEL, "9")],
                Some(Compression::ZSTD(ZstdLevel::try_new(9).unwrap())),
            ),
            (
                vec![(COMPRESSION_CODEC, "SNAPPY")],
                Some(Compression::SNAPPY),
            ),
            (
                vec![(COMPRESSION_CODEC, "uncompressed")],
                Some(Compression::UNCOMPRESSED),
            ),
            (vec![(COMPRESSION_CODEC, "lzo")], None),
            (vec![(COMPRESSION_LEVEL, "high")], None),
            (vec![(COMPRESSION_LEVEL, "99")], None),
        ];
        for (pairs, expected) in cases {
            let got = parquet_properties(&props(&pairs))
                .ok()
                .map(|p| p.compression(&col));
            assert_eq!(got, expected, "{pairs:?}");
        }
    }

    #[test]
    fn sizes_follow_the_table() {
        let p = parquet_properties(&props(&[
            (ROW_GROUP_SIZE, "1048576"),
            (PAGE_ROW_LIMIT, "100"),
        ]))
        .unwrap();
        assert_eq!(p.max_row_group_bytes(), Some(1 << 20));
        assert_eq!(p.data_page_row_count_limit(), 100);
        assert_eq!(target_file_size(&props(&[])).unwrap(), 512 << 20);
        assert_eq!(
            target_file_size(&props(&[(TARGET_FILE_SIZE, "1000")])).unwrap(),
            1000
        );
        for bad in ["0", "-5", "lots"] {
            let err = target_file_size(&props(&[(TARGET_FILE_SIZE, bad)])).unwrap_err();
            assert!(err.to_string().contains(TARGET_FILE_SIZE), "{err}");
        }
    }
}
