//! Settings the table holds: the org config (`CONFIG` / `CURRENT`) and each repo's default
//! branch (`REPO#<owner/repo>` / `META`).

use flowmeter::config::OrgConfig;
use serde::{Deserialize, Serialize};

use super::codec::{from_item, s, to_item};
use super::{keys, Store, StoreError};

#[derive(Serialize, Deserialize)]
struct RepoMetaItem {
    pk: String,
    sk: String,
    default_branch: String,
}

#[derive(Serialize, Deserialize)]
struct ConfigItem {
    pk: String,
    sk: String,
    yaml: String,
}

impl Store {
    /// The stored org config and its YAML text (`None`: none was pushed).
    pub async fn config(&self) -> Result<Option<(OrgConfig, String)>, StoreError> {
        let request = self
            .get()
            .key("pk", s(keys::CONFIG_PK))
            .key("sk", s(keys::CONFIG_SK));
        let out = self.send("GetItem(config)", request.send()).await?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let stored: ConfigItem = from_item(item)?;
        let config = OrgConfig::from_yaml(&stored.yaml)
            .map_err(|e| StoreError::Corrupt(format!("stored config is invalid: {e}")))?;
        Ok(Some((config, stored.yaml)))
    }

    pub async fn put_config(&self, yaml: &str) -> Result<(), StoreError> {
        let config = ConfigItem {
            pk: keys::CONFIG_PK.into(),
            sk: keys::CONFIG_SK.into(),
            yaml: yaml.to_string(),
        };
        self.put_setting("PutItem(config)", &config).await
    }

    /// A repo's default branch, as last recorded ([`Store::put_default_branch`]).
    pub async fn default_branch(&self, repo: &str) -> Result<Option<String>, StoreError> {
        let request = self
            .get()
            .key("pk", s(keys::repo_pk(repo)))
            .key("sk", s(keys::REPO_META_SK));
        let out = self.send("GetItem(meta)", request.send()).await?;
        Ok(out
            .item
            .map(from_item::<RepoMetaItem>)
            .transpose()?
            .map(|m| m.default_branch))
    }

    pub async fn put_default_branch(&self, repo: &str, branch: &str) -> Result<(), StoreError> {
        let meta = RepoMetaItem {
            pk: keys::repo_pk(repo),
            sk: keys::REPO_META_SK.into(),
            default_branch: branch.to_string(),
        };
        self.put_setting("PutItem(meta)", &meta).await
    }

    /// Writes a setting's item over whatever its key held.
    async fn put_setting(&self, op: &'static str, item: &impl Serialize) -> Result<(), StoreError> {
        let request = self.put().set_item(Some(to_item(item)?));
        self.send(op, request.send()).await?;
        Ok(())
    }
}
