//! The upstream remote: cloning the content repository from it, fetching its branch, and
//! pushing the writer's commits to it with a lease (git's `--force-with-lease`: the push goes
//! through only while the remote branch is still where this instance last saw it).
//!
//! Over the network (`git://`, `http://`, `https://`) the push is
//! git's own protocol: the branch's advertised id is checked against the lease, and
//! `receive-pack` updates the branch only if it still holds that id, under its lock. For a
//! repository on this machine (a path or `file://`) libgit2's local transport would
//! overwrite the branch without that check, so the push is done here instead: the missing
//! objects are copied into the upstream as loose objects (which `git gc` leaves alone for
//! two weeks) and its branch is moved with the same compare-and-swap and flushes as the
//! served one.

use std::path::{Path, PathBuf};

use git2::{
    AutotagOption, Cred, CredentialType, Direction, ErrorCode, FetchOptions, ObjectType, Oid,
    PushOptions, RemoteCallbacks, Repository,
};

use super::{Store, StoreError};

/// The user name sent with the token when the URL names none. GitHub wants this one for
/// app installation tokens and takes any name with a personal token; Gitea and GitLab take
/// any name with a token (GitLab wants `oauth2` for OAuth tokens: put it in the URL,
/// `https://oauth2@gitlab.com/...`).
const TOKEN_USERNAME: &str = "x-access-token";

/// Where the fetched upstream branch is kept: `refs/remotes/upstream/<branch>`.
const TRACKING_PREFIX: &str = "refs/remotes/upstream/";

/// The ref naming the commits being pushed: libgit2 pushes a ref, not a bare id. It also
/// keeps them reachable until the served branch names them: the writer's loose objects are
/// safe from `git repack -a -d` and from a default `git gc` (which prunes only loose objects
/// two weeks old) anyway, but not from a `git gc --prune=now` run during a slow push.
const OUTGOING_REF: &str = "refs/palimpsest/outgoing";

/// A remote repository the served branch mirrors.
#[derive(Clone)]
pub struct Remote {
    url: String,
    /// A token for HTTP(S) remotes, sent as the password.
    token: Option<String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

/// How a push ended when the remote answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    Accepted,
    /// The lease failed: the remote branch moved since this instance last saw it.
    Refused(String),
}

impl Remote {
    pub fn new(url: &str, token: Option<String>) -> Remote {
        Remote {
            url: url.to_string(),
            token: token.filter(|t| !t.is_empty()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this build can reach the remote. HTTPS is built in (with its own OpenSSL);
    /// SSH is not: it would need a key, a known-hosts file and libssh2 to manage, where a
    /// forge's HTTPS URL with a token does the same job with one setting.
    ///
    /// # Errors
    /// A message naming the transport that is missing and what to use instead.
    pub fn check_transport(&self) -> Result<(), String> {
        let scheme = self.url.split_once("://").map(|(scheme, _)| scheme);
        let ssh = match scheme {
            Some(scheme) => matches!(scheme, "ssh" | "git+ssh" | "ssh+git"),
            None => looks_like_scp(&self.url),
        };
        if ssh && !git2::Version::get().ssh() {
            return Err(
                "ssh upstreams are not supported: use the forge's https:// URL with a \
                        token in --upstream-token"
                    .into(),
            );
        }
        if scheme == Some("https") && !git2::Version::get().https() {
            return Err("this build of libgit2 has no HTTPS support".into());
        }
        Ok(())
    }

    /// The folder of a remote on this machine (a path or a `file://` URL).
    fn local_path(&self) -> Option<PathBuf> {
        if let Some(path) = self.url.strip_prefix("file://") {
            return Some(PathBuf::from(path));
        }
        (!self.url.contains("://") && !looks_like_scp(&self.url)).then(|| PathBuf::from(&self.url))
    }

    /// Callbacks answering the remote's request for credentials with the token, once: when
    /// the remote refuses them, libgit2 asks again (up to fifteen times), and a clear error
    /// is better than being refused fifteen times.
    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        let mut asked = false;
        callbacks.credentials(move |_, username, allowed| {
            let token = match &self.token {
                Some(token) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => token,
                _ => {
                    return Err(git2::Error::from_str(
                        "the upstream asks for credentials: give a token with --upstream-token",
                    ));
                }
            };
            if std::mem::replace(&mut asked, true) {
                return Err(git2::Error::from_str(
                    "the upstream refused the credentials: check --upstream-token",
                ));
            }
            Cred::userpass_plaintext(username.unwrap_or(TOKEN_USERNAME), token)
        });
        callbacks
    }

    fn fetch_options(&self) -> FetchOptions<'_> {
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.callbacks());
        options.download_tags(AutotagOption::None);
        options
    }
}

/// `user@host:path`, git's scp-like syntax for ssh.
fn looks_like_scp(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash && colon > 1,
        (Some(colon), None) => colon > 1,
        _ => false,
    }
}

/// Creates a bare repository at `path` from `remote`'s `branch`.
///
/// # Errors
/// Git errors cloning (an unreachable remote, a missing branch).
pub fn clone_bare(remote: &Remote, path: &Path, branch: &str) -> Result<(), StoreError> {
    super::configure_libgit2();
    git2::build::RepoBuilder::new()
        .bare(true)
        .branch(branch)
        .fetch_options(remote.fetch_options())
        .clone(&remote.url, path)?;
    Ok(())
}

/// Talking to the upstream remote.
impl Store {
    /// Fetches the remote's branch into `refs/remotes/upstream/<branch>`, and returns where
    /// the remote branch is (`None`: the remote has no such branch).
    ///
    /// # Errors
    /// Git errors fetching (an unreachable remote, refused credentials).
    pub fn fetch_from(&self, remote: &Remote) -> Result<Option<Oid>, StoreError> {
        let repo = self.repository()?;
        let mut connection = repo.remote_anonymous(&remote.url)?;
        let tracking = format!("{TRACKING_PREFIX}{}", self.branch);
        let refspec = format!("+{}:{tracking}", self.branch_ref());
        connection.fetch(&[&refspec], Some(&mut remote.fetch_options()), None)?;
        // Where the remote branch is now, as it advertised it (the tracking ref is kept
        // when the remote branch is gone).
        let advertised = connection
            .list()?
            .iter()
            .find(|head| head.name() == self.branch_ref())
            .map(|head| head.oid());
        Ok(advertised)
    }

    /// Pushes `new` to the remote's branch if the branch is still at `lease`; the commits
    /// are in this repository, `new` descending from `lease`.
    ///
    /// # Errors
    /// Git errors reaching the remote or sending the objects; a refused lease is not one.
    pub fn push_to(
        &self,
        remote: &Remote,
        new: Oid,
        lease: Option<Oid>,
    ) -> Result<Pushed, StoreError> {
        let repo = self.repository()?;
        repo.reference(OUTGOING_REF, new, true, "palimpsest: pushing")?;
        match remote.local_path() {
            Some(path) => self.push_locally(&repo, &path, new, lease),
            None => self.push_over_the_network(&repo, remote, lease),
        }
    }

    fn push_locally(
        &self,
        repo: &Repository,
        path: &Path,
        new: Oid,
        lease: Option<Oid>,
    ) -> Result<Pushed, StoreError> {
        let upstream = Store::open(path, &self.branch)?;
        let target = upstream.repository()?;
        if upstream.tip_in(&target)? != lease {
            return Ok(Pushed::Refused("the upstream branch moved".into()));
        }
        copy_missing(repo, &target, new)?;
        match upstream.move_branch(&target, new, lease, "palimpsest: push") {
            Ok(_) => Ok(Pushed::Accepted),
            Err(StoreError::BranchMoved { .. }) => {
                Ok(Pushed::Refused("the upstream branch moved".into()))
            }
            // Another instance is moving it: this lease will fail once it has.
            Err(StoreError::BranchLocked(_)) => Ok(Pushed::Refused(
                "the upstream branch is being updated".into(),
            )),
            Err(error) => Err(error),
        }
    }

    fn push_over_the_network(
        &self,
        repo: &Repository,
        remote: &Remote,
        lease: Option<Oid>,
    ) -> Result<Pushed, StoreError> {
        let mut connection = repo.remote_anonymous(&remote.url)?;
        connection.connect_auth(Direction::Push, Some(remote.callbacks()), None)?;
        let advertised = connection
            .list()?
            .iter()
            .find(|head| head.name() == self.branch_ref())
            .map(|head| head.oid());
        if advertised != lease {
            return Ok(Pushed::Refused("the upstream branch moved".into()));
        }
        // Pushed on the same connection: receive-pack is told the advertised id as the old
        // one, and refuses the update if the branch no longer holds it.
        let refusal = std::cell::RefCell::new(None);
        let mut callbacks = remote.callbacks();
        callbacks.push_update_reference(|_, status| {
            if let Some(message) = status {
                *refusal.borrow_mut() = Some(message.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        let refspec = format!("{OUTGOING_REF}:{}", self.branch_ref());
        let pushed = connection.push(&[&refspec], Some(&mut options));
        drop(options);
        match pushed {
            Ok(()) => {}
            Err(error) if error.code() == ErrorCode::NotFastForward => {
                return Ok(Pushed::Refused(error.message().to_string()));
            }
            Err(error) => return Err(error.into()),
        }
        Ok(match refusal.into_inner() {
            Some(message) => Pushed::Refused(message),
            None => Pushed::Accepted,
        })
    }
}

/// Copies into `target` every object reachable from `new` that it lacks, as loose objects:
/// commits back to the first one it has, and of each, the trees and blobs it has not.
fn copy_missing(source: &Repository, target: &Repository, new: Oid) -> Result<(), StoreError> {
    let (from, to) = (source.odb()?, target.odb()?);
    let copy = |id: Oid| -> Result<(), git2::Error> {
        let object = from.read(id)?;
        to.write(object.kind(), object.data())?;
        Ok(())
    };
    let mut commits = vec![new];
    let mut trees = Vec::new();
    while let Some(id) = commits.pop() {
        if to.exists(id) {
            continue;
        }
        let commit = source.find_commit(id)?;
        trees.push(commit.tree_id());
        commits.extend(commit.parent_ids());
        copy(id)?;
    }
    while let Some(id) = trees.pop() {
        // A tree the target has comes with everything under it.
        if to.exists(id) {
            continue;
        }
        for entry in source.find_tree(id)?.iter() {
            match entry.kind() {
                Some(ObjectType::Tree) => trees.push(entry.id()),
                Some(ObjectType::Blob) if !to.exists(entry.id()) => copy(entry.id())?,
                _ => {}
            }
        }
        copy(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_urls_are_local_and_the_rest_is_not() {
        let local = |url: &str| Remote::new(url, None).local_path();
        assert_eq!(local("/srv/blog.git"), Some("/srv/blog.git".into()));
        assert_eq!(local("file:///srv/blog.git"), Some("/srv/blog.git".into()));
        assert_eq!(local("../blog.git"), Some("../blog.git".into()));
        assert_eq!(local("git://127.0.0.1:9418/blog.git"), None);
        assert_eq!(local("https://github.com/mira/blog.git"), None);
        assert_eq!(local("git@github.com:mira/blog.git"), None);
    }

    #[test]
    fn local_git_and_http_remotes_are_reachable_and_ssh_ones_are_refused_by_name() {
        for url in [
            "/srv/blog.git",
            "file:///srv/blog.git",
            "git://host/blog.git",
            "http://127.0.0.1:8080/blog.git",
            "https://github.com/mira/blog.git",
        ] {
            assert_eq!(Remote::new(url, None).check_transport(), Ok(()), "{url}");
        }
        for url in [
            "ssh://git@github.com/mira/blog.git",
            "git@github.com:mira/blog.git",
        ] {
            let refused = Remote::new(url, None).check_transport().unwrap_err();
            assert!(
                refused.contains("ssh") && refused.contains("https://"),
                "{refused}"
            );
        }
    }

    /// An HTTPS URL reaches libgit2's HTTPS transport: a closed port fails to connect,
    /// rather than with "unsupported URL protocol".
    #[test]
    fn an_https_upstream_is_tried_over_tls() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let remote = Remote::new(&format!("https://127.0.0.1:{closed}/blog.git"), None);
        let error = clone_bare(&remote, &dir.path().join("blog.git"), "main").unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("unsupported URL protocol"), "{message}");
        assert!(message.contains("connect"), "{message}");
    }

    #[test]
    fn a_remote_never_shows_its_token() {
        let remote = Remote::new("https://example.org/blog.git", Some("s3cret".into()));
        assert!(!format!("{remote:?}").contains("s3cret"));
    }
}
