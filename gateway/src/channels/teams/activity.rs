//! The parts of a Bot Framework activity the bot reads, and the skeleton of its replies.

use ragway_ingest::lang::Lang;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Entra object id of a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
    /// Teams' account fields, when the activity carries them: the user's home Entra tenant and
    /// their role in it (`user`, `guest`, `anonymous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_role: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    pub id: String,
    /// `personal` (1:1), `groupChat` or `channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub service_url: String,
    pub channel_id: String,
    #[serde(default)]
    pub from: ChannelAccount,
    #[serde(default)]
    pub recipient: ChannelAccount,
    pub conversation: ConversationAccount,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub entities: Vec<Value>,
    #[serde(default)]
    pub channel_data: Value,
    pub locale: Option<String>,
    /// Invokes: `message/submitAction` (feedback), …
    pub name: Option<String>,
    #[serde(default)]
    pub value: Value,
    pub reply_to_id: Option<String>,
}

impl Activity {
    /// The Microsoft 365 organisation (Entra tenant id) the activity comes from.
    pub fn m365_tenant(&self) -> Option<&str> {
        self.channel_data["tenant"]["id"]
            .as_str()
            .or(self.conversation.tenant_id.as_deref())
    }

    /// Whether the sender is not one of the organisation's own people, as far as the activity
    /// tells: a B2B guest or anonymous participant (`from.userRole`), someone without an Entra
    /// object id (anonymous meeting participants have none), someone whose home tenant
    /// (`from.tenantId`) is another organisation, or a conversation whose tenant disagrees with
    /// `channelData.tenant.id`. Any doubt makes a guest: fewer documents, never more.
    pub fn sender_is_guest(&self) -> bool {
        let org = self.m365_tenant();
        let other_tenant =
            |tenant: &Option<String>| tenant.as_deref().is_some_and(|tenant| Some(tenant) != org);
        let role = self.from.user_role.as_deref().unwrap_or("user");
        !role.eq_ignore_ascii_case("user")
            || self.from.aad_object_id.as_deref().is_none_or(str::is_empty)
            || other_tenant(&self.from.tenant_id)
            || other_tenant(&self.conversation.tenant_id)
    }

    /// 1:1 chats are the only place Teams streams.
    pub fn is_personal(&self) -> bool {
        self.conversation.conversation_type.as_deref() == Some("personal")
    }

    /// The question: the text without the bot's @mention (`<at>Bot</at>`), which channels and
    /// group chats always include.
    pub fn question(&self) -> String {
        let mut text = self.text.clone();
        for entity in &self.entities {
            let mentions_bot = entity["type"] == "mention"
                && entity["mentioned"]["id"].as_str() == Some(self.recipient.id.as_str());
            if let (true, Some(mention)) = (mentions_bot, entity["text"].as_str()) {
                text = text.replace(mention, " ");
            }
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The language of the user's Teams client (`locale`), when ragway speaks it.
    pub fn lang(&self) -> Option<Lang> {
        self.locale.as_deref().and_then(Lang::from_tag)
    }

    /// An activity of `kind` from the bot back into this conversation.
    pub fn reply(&self, kind: &str) -> Value {
        let mut reply = json!({
            "type": kind,
            "from": self.recipient,
            "recipient": self.from,
            "conversation": self.conversation,
            "replyToId": self.id,
        });
        if let Some(locale) = &self.locale {
            reply["locale"] = json!(locale);
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bots_mention_is_stripped() {
        let activity: Activity = serde_json::from_value(json!({
            "type": "message", "id": "1", "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "channelId": "msteams", "conversation": {"id": "19:x@thread.v2", "conversationType": "groupChat"},
            "recipient": {"id": "28:bot", "name": "Ragway"}, "from": {"id": "29:u"},
            "text": "<at>Ragway</at> How do I reach <at>Ana</at>?",
            "entities": [
                {"type": "mention", "text": "<at>Ragway</at>", "mentioned": {"id": "28:bot", "name": "Ragway"}},
                {"type": "mention", "text": "<at>Ana</at>", "mentioned": {"id": "29:ana", "name": "Ana"}}
            ]
        }))
        .unwrap();
        assert_eq!(activity.question(), "How do I reach <at>Ana</at>?");
        assert!(!activity.is_personal());
        assert_eq!(activity.reply("typing")["from"]["id"], "28:bot");
    }

    #[test]
    fn guests_are_told_from_members_by_what_the_activity_says() {
        let member = json!({
            "type": "message", "serviceUrl": "https://smba.trafficmanager.net/emea/", "channelId": "msteams",
            "conversation": {"id": "a:1", "conversationType": "personal", "tenantId": "org"},
            "from": {"id": "29:u", "aadObjectId": "aad-u"}, "channelData": {"tenant": {"id": "org"}},
        });
        let read = |change: &dyn Fn(&mut Value)| {
            let mut value = member.clone();
            change(&mut value);
            serde_json::from_value::<Activity>(value)
                .unwrap()
                .sender_is_guest()
        };
        assert!(!read(&|_: &mut Value| {}));
        assert!(!read(&|a: &mut Value| a["from"]["userRole"] = json!("user")));
        assert!(!read(&|a: &mut Value| a["from"]["tenantId"] = json!("org")));
        assert!(read(&|a: &mut Value| a["from"]["userRole"] = json!("guest")));
        assert!(read(
            &|a: &mut Value| a["from"]["userRole"] = json!("anonymous")
        ));
        assert!(read(
            &|a: &mut Value| a["from"]["tenantId"] = json!("partner-org")
        ));
        assert!(read(
            &|a: &mut Value| a["conversation"]["tenantId"] = json!("partner-org")
        ));
        assert!(read(&|a: &mut Value| {
            a["from"].as_object_mut().unwrap().remove("aadObjectId");
        }));
    }
}
