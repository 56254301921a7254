//! What the async PostgreSQL tests share.

use bytes::Bytes;
use domgen_engine::{GeneratorBuilder, Sink};
use domgen_pattern::Space;
use domgen_pg::copy::CopyRows;
use domgen_test_support::{connect, fresh_database};
use tokio_postgres::Client;
use uuid::Uuid;

/// A fresh database on the test server, migrated, with a client on the
/// caller's runtime.
pub async fn migrated() -> (String, Client) {
    let url = fresh_database();
    let mut client = connect(&url).await;
    domgen_pg::migrate::migrate(&mut client)
        .await
        .expect("migrate");
    (url, client)
}

/// A batch's rows, encoded as the workers encode them.
pub fn rows(space: &Space, id: Uuid, positions: std::ops::Range<u64>) -> Vec<Bytes> {
    struct Collect(Vec<Bytes>);
    impl Sink for Collect {
        type Error = std::io::Error;
        fn write_batch(
            &mut self,
            _: std::ops::Range<u64>,
            bytes: &[u8],
        ) -> Result<domgen_engine::Flow, std::io::Error> {
            self.0.push(Bytes::copy_from_slice(bytes));
            Ok(domgen_engine::Flow::Continue)
        }
    }
    let generator = GeneratorBuilder::new()
        .threads(1)
        .batch_names(7)
        .build()
        .unwrap();
    let mut sink = Collect(Vec::new());
    generator
        .run(
            space,
            &CopyRows::new(id),
            &mut sink,
            domgen_engine::RunOptions::new(positions),
        )
        .unwrap();
    sink.0
}
