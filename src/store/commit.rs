//! Writing commits straight into the object database, without a working tree or an index;
//! `branch` publishes them.

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Signature, Time};

use super::{Store, StoreError};

/// A person as git records them: `Name <email>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    /// Parses `Name <email>`.
    ///
    /// # Errors
    /// A message saying what is missing, for configuration errors.
    pub fn parse(text: &str) -> Result<Identity, String> {
        let text = text.trim();
        let (name, rest) = text
            .split_once('<')
            .ok_or_else(|| format!("`{text}` is not of the form `Name <email>`"))?;
        let email = rest
            .strip_suffix('>')
            .ok_or_else(|| format!("`{text}` is not of the form `Name <email>`"))?;
        let (name, email) = (name.trim(), email.trim());
        if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
            return Err(format!("`{text}` is not of the form `Name <email>`"));
        }
        Ok(Identity {
            name: name.to_string(),
            email: email.to_string(),
        })
    }

    pub(crate) fn signature(&self, time: Option<Time>) -> Result<Signature<'static>, git2::Error> {
        match time {
            Some(time) => Signature::new(&self.name, &self.email, &time),
            None => Signature::now(&self.name, &self.email),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// One file changed by a commit.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert { path: String, content: Vec<u8> },
    Delete { path: String },
}

/// What a commit says: who, why, and when (`None`: now).
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub author: Identity,
    pub committer: Identity,
    pub message: String,
    pub time: Option<Time>,
    pub changes: Vec<Change>,
}

/// How many times a commit's objects are written when git's maintenance keeps removing
/// their folders: each race is a window of microseconds, so a few tries are plenty.
const OBJECT_WRITE_TRIES: usize = 8;

/// Writing commits.
impl Store {
    /// Writes a commit on top of `parent` into the object database; no reference moves.
    ///
    /// Only the trees on the changed paths are rewritten (`TreeUpdateBuilder`), so the cost
    /// does not grow with the number of posts.
    ///
    /// # Errors
    /// Git errors writing blobs, trees or the commit.
    pub fn write_commit(
        &self,
        repo: &Repository,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        // git's maintenance may remove an object's folder under libgit2's feet (see
        // `StoreError::is_vanished_object_folder`); writing again is safe and soon wins.
        let mut tries = 1;
        loop {
            match self.write_commit_once(repo, parent, request) {
                Err(error) if error.is_vanished_object_folder() && tries < OBJECT_WRITE_TRIES => {
                    tries += 1;
                }
                written => return written,
            }
        }
    }

    fn write_commit_once(
        &self,
        repo: &Repository,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        let parent = parent.map(|oid| repo.find_commit(oid)).transpose()?;
        let base_tree = match &parent {
            Some(commit) => commit.tree()?,
            // libgit2 knows the empty tree without it being stored, as git does: writing it
            // would leave an object no commit names.
            None => repo.find_tree(Oid::hash_object(ObjectType::Tree, &[])?)?,
        };
        let mut update = TreeUpdateBuilder::new();
        for change in &request.changes {
            match change {
                Change::Upsert { path, content } => {
                    update.upsert(path.as_str(), repo.blob(content)?, FileMode::Blob);
                }
                Change::Delete { path } => {
                    update.remove(path.as_str());
                }
            }
        }
        let tree = repo.find_tree(update.create_updated(repo, &base_tree)?)?;
        let author = request.author.signature(request.time)?;
        let committer = request.committer.signature(request.time)?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        Ok(repo.commit(None, &author, &committer, &request.message, &tree, &parents)?)
    }
}

/// Test support: commits on the branch tip and publishes at once.
#[cfg(test)]
impl Store {
    /// Commits `files` (path, content) on the tip as `A <a@example.org>` and moves the
    /// branch to it.
    pub(crate) fn commit_files(&self, message: &str, files: &[(String, Vec<u8>)]) -> Oid {
        let repo = self.repository().unwrap();
        let tip = self.tip_in(&repo).unwrap();
        let request = CommitRequest::upserts(message, files);
        let commit = self.write_commit(&repo, tip, &request).unwrap();
        self.move_branch(&repo, commit, tip, message).unwrap();
        commit
    }
}

#[cfg(test)]
impl CommitRequest {
    /// A commit by `A <a@example.org>` writing `files` (path, content), for tests.
    pub(crate) fn upserts(message: &str, files: &[(String, Vec<u8>)]) -> CommitRequest {
        let who = Identity::parse("A <a@example.org>").unwrap();
        CommitRequest {
            author: who.clone(),
            committer: who,
            message: message.into(),
            time: None,
            changes: files
                .iter()
                .map(|(path, content)| Change::Upsert {
                    path: path.clone(),
                    content: content.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_parsed_from_name_and_email() {
        let who = Identity::parse("Mira Okafor <mira@example.org>").unwrap();
        assert_eq!(who.name, "Mira Okafor");
        assert_eq!(who.email, "mira@example.org");
        assert_eq!(who.to_string(), "Mira Okafor <mira@example.org>");
    }

    #[test]
    fn an_identity_without_an_email_is_rejected() {
        for bad in ["Mira", "Mira <>", "<mira@example.org>", "Mira <a<b>"] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
    }
}
