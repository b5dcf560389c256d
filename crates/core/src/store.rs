//! Object stores: `s3://bucket/prefix` locations for extracts, the lake and
//! the publication — AWS S3 and the stores that speak its protocol (MinIO,
//! Ceph, Aliyun OSS) through `[object_store] endpoint`.
//!
//! A store is reached once, when the command starts: a wrong endpoint, keys
//! the store refuses or a missing bucket stop it there, with the URL named,
//! after at most a couple of quick retries — never a night spent retrying.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::config::{StoreConfig, check_url};

/// How long the first contact with a store may take in all.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// A store that could not be reached, or refused a request: the URL, what
/// to check, and the store's own error.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {message}")]
pub struct StoreError {
    pub url: String,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    fn new(url: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError { url: url.into(), message: message.into(), source: None }
    }

    fn from_store(url: impl Into<String>, e: object_store::Error) -> Self {
        StoreError { url: url.into(), message: explain(&e), source: Some(Box::new(e)) }
    }

    fn local(url: impl Into<String>, what: String, e: std::io::Error) -> Self {
        StoreError { url: url.into(), message: format!("{what}: {e}"), source: Some(Box::new(e)) }
    }
}

/// An object store's answer as an operator can act on it. Read from the
/// error's kind and the HTTP status it carries, never from digits anywhere in
/// the text: a URL's port (`:40305`) is not a status 403.
fn explain(e: &object_store::Error) -> String {
    use object_store::client::{HttpError, HttpErrorKind};
    let text = e.to_string();
    let has = |s: &str| text.contains(s);
    let mut chain = std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| e.source());
    let transport = chain.find_map(|s| s.downcast_ref::<HttpError>()).map(HttpError::kind);
    let unreachable = matches!(transport, Some(HttpErrorKind::Connect | HttpErrorKind::Timeout));
    let refused = matches!(e, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. })
        || ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "status code: 403", "status code: 401"].iter().any(|s| has(s));
    if has("NoSuchBucket") {
        "the bucket does not exist".into()
    } else if unreachable {
        format!("cannot reach the store (check endpoint and allow_http): {}", first_line(&text))
    } else if refused {
        format!("the store refused the keys (check access_key_id and secret_access_key): {}", first_line(&text))
    } else if has("error sending request") || has("onnection refused") || has("dns error") || has("timed out") {
        format!("cannot reach the store (check endpoint and allow_http): {}", first_line(&text))
    } else {
        first_line(&text).to_string()
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// A prefix of a bucket: where one location's objects live.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The location as the pipeline names it, without a trailing slash.
    url: String,
    /// `s3://bucket`: what DataFusion's object store registry is keyed by.
    bucket: Url,
    prefix: Key,
    store: Arc<dyn ObjectStore>,
}

impl Remote {
    /// Builds the store for `location` and reaches it once: the bucket must
    /// exist and the keys must be accepted.
    pub async fn connect(location: &str, config: &StoreConfig) -> Result<Remote, StoreError> {
        check_url(location).map_err(|m| StoreError::new(location, m))?;
        let trimmed = location.trim_end_matches('/');
        let url = Url::parse(trimmed).map_err(|e| StoreError::new(location, e.to_string()))?;
        let bucket_name = url.host_str().unwrap_or_default().to_string();
        let bucket = Url::parse(&format!("{}://{bucket_name}", url.scheme())).map_err(|e| StoreError::new(location, e.to_string()))?;
        let prefix = Key::from_url_path(url.path()).map_err(|e| StoreError::new(location, e.to_string()))?;

        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket_name);
        if let Some(v) = &config.endpoint {
            builder = builder.with_endpoint(v);
        }
        if let Some(v) = &config.region {
            builder = builder.with_region(v);
        }
        if let Some(v) = &config.access_key_id {
            builder = builder.with_access_key_id(v);
        }
        if let Some(v) = &config.secret_access_key {
            builder = builder.with_secret_access_key(v);
        }
        if let Some(v) = &config.session_token {
            builder = builder.with_token(v);
        }
        let env_allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let allow_http = config.allow_http.unwrap_or(env_allow_http);
        if config.access_key_id.is_none() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            // Without keys the AWS client would go looking for an instance
            // role on the network; on a server that has none, that is a hang.
            return Err(StoreError::new(
                trimmed,
                "no access key: set access_key_id and secret_access_key in [object_store], or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ));
        }
        let endpoint = config.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()).or_else(|| std::env::var("AWS_ENDPOINT").ok());
        if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) && !allow_http {
            return Err(StoreError::new(
                trimmed,
                "the endpoint is plain http://: set allow_http = true in [object_store] (or AWS_ALLOW_HTTP=true) to allow it",
            ));
        }
        let timeout = Duration::from_secs(config.timeout_seconds.unwrap_or(300).max(1));
        let client = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(timeout);
        let retry = RetryConfig {
            backoff: BackoffConfig { init_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(2), base: 2.0 },
            max_retries: 2,
            retry_timeout: Duration::from_secs(15),
        };
        // Path-style requests (`endpoint/bucket/key`) unless told otherwise:
        // what a store on a private endpoint most often expects.
        builder = builder
            .with_client_options(client)
            .with_retry(retry)
            .with_virtual_hosted_style_request(config.virtual_hosted_style.unwrap_or(false));
        let store = builder.build().map_err(|e| StoreError::from_store(trimmed, e))?;
        let remote = Remote { url: trimmed.to_string(), bucket, prefix, store: Arc::new(store) };
        remote.probe().await?;
        Ok(remote)
    }

    /// One listing of the prefix, bounded in time.
    async fn probe(&self) -> Result<(), StoreError> {
        let listing = self.store.list_with_delimiter(Some(&self.prefix));
        match tokio::time::timeout(PROBE_TIMEOUT, listing).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError::from_store(&self.url, e)),
            Err(_) => Err(StoreError::new(&self.url, format!("no answer from the store within {} s", PROBE_TIMEOUT.as_secs()))),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `s3://bucket`, with the store that serves it: what a DataFusion
    /// session registers to read this location.
    pub fn registration(&self) -> (&Url, Arc<dyn ObjectStore>) {
        (&self.bucket, self.store.clone())
    }

    /// The URL of `rel` under this location.
    pub fn url_of(&self, rel: &str) -> String {
        if rel.is_empty() { self.url.clone() } else { format!("{}/{}", self.url, rel.trim_start_matches('/')) }
    }

    /// The object key of `rel`, as written: names in Chinese stay readable
    /// to every other tool that lists the bucket.
    fn key(&self, rel: &str) -> Key {
        let parts: Vec<&str> = self.prefix.as_ref().split('/').chain(rel.split('/')).filter(|p| !p.is_empty()).collect();
        let raw = parts.join("/");
        Key::parse(&raw).unwrap_or_else(|_| Key::from(raw.as_str()))
    }

    /// `rel` of a key under this location.
    fn rel_of(&self, key: &Key) -> String {
        key.prefix_match(&self.prefix).map(|parts| parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/")).unwrap_or_default()
    }

    /// Every object under `rel`, as (path relative to this location, metadata), sorted.
    pub async fn list(&self, rel: &str) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        let key = self.key(rel);
        let metas: Vec<ObjectMeta> =
            self.store.list(Some(&key)).try_collect().await.map_err(|e| StoreError::from_store(self.url_of(rel), e))?;
        let mut out: Vec<(String, ObjectMeta)> = metas.into_iter().map(|m| (self.rel_of(&m.location), m)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The names directly under `rel` that hold objects ("directories").
    pub async fn dirs(&self, rel: &str) -> Result<Vec<String>, StoreError> {
        let key = self.key(rel);
        let listing = self.store.list_with_delimiter(Some(&key)).await.map_err(|e| StoreError::from_store(self.url_of(rel), e))?;
        let mut names: Vec<String> = listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect();
        names.sort();
        Ok(names)
    }

    /// Copies one object to a local file, streaming; the file gets the
    /// object's modification time (staleness checks read it).
    pub async fn download(&self, rel: &str, to: &Path) -> Result<(), StoreError> {
        let url = self.url_of(rel);
        let local = |e: std::io::Error| StoreError::local(&url, format!("writing {}", to.display()), e);
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(local)?;
        }
        let got = self.store.get(&self.key(rel)).await.map_err(|e| StoreError::from_store(&url, e))?;
        let modified = got.meta.last_modified;
        let mut stream = got.into_stream();
        let mut file = tokio::fs::File::create(to).await.map_err(local)?;
        while let Some(chunk) = stream.try_next().await.map_err(|e| StoreError::from_store(&url, e))? {
            file.write_all(&chunk).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        let file = file.into_std().await;
        let _ = file.set_modified(modified.into());
        Ok(())
    }

    /// Copies a local file to `rel`, in parts for a large one. The object
    /// appears whole or not at all.
    pub async fn upload(&self, from: &Path, rel: &str) -> Result<(), StoreError> {
        let url = self.url_of(rel);
        let mut file = tokio::fs::File::open(from).await.map_err(|e| StoreError::local(&url, format!("reading {}", from.display()), e))?;
        let mut writer = BufWriter::new(self.store.clone(), self.key(rel));
        if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
            let _ = writer.abort().await;
            return Err(StoreError::local(&url, format!("uploading {}", from.display()), e));
        }
        writer.shutdown().await.map_err(|e| StoreError::local(&url, format!("uploading {}", from.display()), e))
    }

    /// Uploads every file under a local directory to `rel`, keeping the
    /// layout. Returns how many files were uploaded.
    pub async fn upload_dir(&self, from: &Path, rel: &str) -> Result<usize, StoreError> {
        let mut files = Vec::new();
        let mut stack = vec![from.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| StoreError::local(self.url_of(rel), format!("reading {}", dir.display()), e))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(sub) = path.strip_prefix(from) {
                    files.push((path.clone(), sub.to_string_lossy().replace('\\', "/")));
                }
            }
        }
        files.sort();
        for (path, sub) in &files {
            self.upload(path, &format!("{}/{sub}", rel.trim_end_matches('/'))).await?;
        }
        Ok(files.len())
    }

    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store
            .put(&self.key(rel), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_store(self.url_of(rel), e))
    }

    /// The bytes of a small object, or `None` when there is none.
    pub async fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&self.key(rel)).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(|e| StoreError::from_store(self.url_of(rel), e))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(StoreError::from_store(self.url_of(rel), e)),
        }
    }

    pub async fn delete(&self, rel: &str) -> Result<(), StoreError> {
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::from_store(self.url_of(rel), e)),
        }
    }

    /// Deletes every object under `rel`.
    pub async fn delete_all(&self, rel: &str) -> Result<usize, StoreError> {
        let objects = self.list(rel).await?;
        for (sub, _) in &objects {
            self.delete(sub).await?;
        }
        Ok(objects.len())
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic { store: "S3", source: text.into() }
    }

    #[test]
    fn a_port_that_reads_like_a_status_is_not_a_refusal() {
        let e = generic("Error performing GET http://127.0.0.1:40305/fundwatch?list-type=2 in 586ms, after 2 retries - HTTP error: error sending request");
        assert!(explain(&e).starts_with("cannot reach the store"), "{}", explain(&e));
    }

    #[test]
    fn a_forbidden_answer_or_a_refused_key_is_named_as_such() {
        let e = generic("Error performing GET http://127.0.0.1:9000/b in 3ms - Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code></Error>");
        assert!(explain(&e).starts_with("the store refused the keys"), "{}", explain(&e));
        let e = object_store::Error::PermissionDenied { path: "lake/x".into(), source: "denied".into() };
        assert!(explain(&e).starts_with("the store refused the keys"), "{}", explain(&e));
        assert_eq!(explain(&generic("<Code>NoSuchBucket</Code>")), "the bucket does not exist");
    }
}
