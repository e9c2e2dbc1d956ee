//! Settings as a checkpoint stores them: today's table as JSON, or the nested form earlier
//! versions wrote, read so that the runs they started can still be resumed.

use super::convert::{OptimizerKind, ScheduleKind};
use super::table::{SettingsLayer, TrainSettings};
use crate::choice::Choice;
use crate::rnn::data::TokenizerKind;
use crate::rnn::model::Activation;
use std::path::PathBuf;

impl TrainSettings {
    /// Reads the settings stored in a checkpoint: today's table, or the nested form
    /// earlier versions wrote (model, update and schedule objects), so that runs they
    /// started can still be resumed.
    pub fn from_json(text: &str) -> std::result::Result<TrainSettings, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if value.get("update").is_none() {
            return serde_json::from_value(value).map_err(|e| e.to_string());
        }
        legacy(&value).ok_or_else(|| "settings of an unknown form".to_string())
    }
}

/// Settings as versions before the table stored them: {data, valid, tokenizer, max_vocab,
/// model {embed, hidden, activation}, update {optimizer {kind, momentum?}, clip, dropout},
/// seq_len, batch, steps, lr, schedule {kind, every?, gamma?, warmup?, min_lr?}, seed,
/// eval_every, eval_tokens, save_every, log_every, max_minutes}.
fn legacy(v: &serde_json::Value) -> Option<TrainSettings> {
    let mut o = SettingsLayer::default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let path = |k: &str| v.get(k).and_then(text).map(PathBuf::from);
    o.data = Some(path("data"));
    o.valid = Some(path("valid"));
    o.tokenizer = Some(TokenizerKind::parse(v.get("tokenizer")?.as_str()?).ok()?);
    o.max_vocab = Some(v.get("max_vocab").and_then(|x| x.as_u64()).map(|x| x as usize));
    let model = v.get("model")?;
    o.embed = Some(model.get("embed")?.as_u64()? as usize);
    o.hidden = Some(model.get("hidden")?.as_array()?.iter().map(|h| h.as_u64().map(|x| x as usize)).collect::<Option<Vec<_>>>()?);
    o.activation = Some(Activation::parse(model.get("activation")?.as_str()?).ok()?);
    let update = v.get("update")?;
    let optimizer = update.get("optimizer")?;
    match optimizer.get("kind")?.as_str()? {
        "sgd" => {
            o.optimizer = Some(OptimizerKind::Sgd);
            o.momentum = Some(optimizer.get("momentum")?.as_f64()? as f32);
        }
        _ => o.optimizer = Some(OptimizerKind::Adam),
    }
    o.clip = Some(update.get("clip").and_then(|c| c.as_f64()).unwrap_or(0.0) as f32);
    o.dropout = update.get("dropout").and_then(|d| d.as_f64()).map(|d| d as f32);
    let num = |k: &str| v.get(k).and_then(|x| x.as_u64());
    o.seq_len = Some(num("seq_len")? as usize);
    o.batch = Some(num("batch")? as usize);
    o.steps = num("steps");
    o.lr = v.get("lr").and_then(|x| x.as_f64()).map(|x| x as f32);
    let schedule = v.get("schedule")?;
    match schedule.get("kind")?.as_str()? {
        "step" => {
            o.schedule = Some(ScheduleKind::Step);
            o.lr_decay_every = Some(schedule.get("every").and_then(|x| x.as_u64()));
            o.lr_decay = schedule.get("gamma").and_then(|x| x.as_f64()).map(|x| x as f32);
        }
        "cosine" => {
            o.schedule = Some(ScheduleKind::Cosine);
            o.warmup = schedule.get("warmup").and_then(|x| x.as_u64());
            o.min_lr = Some(schedule.get("min_lr").and_then(|x| x.as_f64()).map(|x| x as f32));
        }
        _ => o.schedule = Some(ScheduleKind::Constant),
    }
    o.seed = num("seed");
    o.eval_every = num("eval_every");
    o.eval_tokens = num("eval_tokens").map(|x| x as usize);
    o.save_every = num("save_every");
    o.log_every = num("log_every");
    o.max_minutes = Some(v.get("max_minutes").and_then(|x| x.as_f64()));
    o.resolve().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::train::schedule::LrSchedule;

    #[test]
    fn stored_settings_missing_newer_keys_read_as_their_defaults() {
        let mut json: serde_json::Value = serde_json::to_value(SettingsLayer::default().resolve().unwrap()).unwrap();
        for newer in ["tie_weights", "epochs", "patience", "min_improvement", "weight_decay"] {
            json.as_object_mut().unwrap().remove(newer).expect("a stored key");
        }
        let s = TrainSettings::from_json(&json.to_string()).unwrap();
        assert_eq!(s, TrainSettings::default());
        assert_eq!(TrainSettings::default(), SettingsLayer::default().resolve().unwrap());
    }

    #[test]
    fn settings_stored_by_earlier_versions_still_load() {
        let old = r#"{"data":"t.txt","valid":null,"tokenizer":"word","max_vocab":null,
            "model":{"vocab":10,"embed":8,"hidden":[12,10],"activation":"relu"},
            "update":{"optimizer":{"kind":"sgd","momentum":0.9},"clip":1.5,"dropout":0.2,"dropout_seed":7},
            "seq_len":10,"batch":4,"steps":400,"lr":0.01,"schedule":{"kind":"step","every":100,"gamma":0.5},
            "seed":3,"eval_every":5,"eval_tokens":0,"save_every":0,"log_every":3}"#;
        let s = TrainSettings::from_json(old).unwrap();
        assert_eq!((s.tokenizer, s.embed, s.hidden.clone(), s.activation), (TokenizerKind::Word, 8, vec![12, 10], Activation::Relu));
        assert_eq!((s.optimizer, s.momentum, s.clip, s.dropout), (OptimizerKind::Sgd, 0.9, 1.5, 0.2));
        assert_eq!(s.lr_schedule(s.steps), LrSchedule::Step { every: 100, gamma: 0.5 });
        assert_eq!((s.seq_len, s.batch, s.steps, s.seed, s.log_every), (10, 4, 400, 3, 3));
    }
}
