//! Device inventory. Each uploaded section replaces what the device held for it:
//! hardware, OS, processes and users as one JSON document each; software, disks and
//! network interfaces also as rows (searchable, filterable), and the hardware/OS facts
//! dynamic groups look at copied onto the device row.

use crate::StoreError;
use crate::db::{Count, Db, Q, Tx};
use breeze_proto::agent::{
    DiskInfo, HardwareInventory, InventoryRequest, InventorySection, NetworkInterface, OsInventory,
    SoftwareSource,
};
use breeze_proto::api;
use breeze_proto::ids::DeviceId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

async fn put_doc<T: Serialize>(
    tx: &mut Tx,
    device: DeviceId,
    section: InventorySection,
    data: &T,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let v = serde_json::to_value(data)
        .map_err(|e| StoreError::invalid(section.as_str(), e.to_string()))?;
    tx.exec(
        Q::new("DELETE FROM device_inventory WHERE device_id = ? AND section = ?")
            .bind(device)
            .bind(section.as_str()),
    )
    .await?;
    tx.exec(
        Q::new("INSERT INTO device_inventory (device_id, section, data, hash, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(device)
            .bind(section.as_str())
            .bind(v)
            .bind(hash)
            .bind(now),
    )
    .await?;
    Ok(())
}

fn source_name(s: SoftwareSource) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Rows per multi-row INSERT (keeps each statement under both engines' bind limits).
const CHUNK: usize = 100;

/// Stores the sections present in `inv` for `device` (authenticated by its agent).
pub async fn replace_for_agent(
    db: &Db,
    device: DeviceId,
    inv: &InventoryRequest,
    now: DateTime<Utc>,
) -> Result<Vec<InventorySection>, StoreError> {
    let hash = |s: InventorySection| inv.hashes.get(&s).cloned().unwrap_or_default();
    let mut stored = Vec::new();
    let mut tx = db.begin().await?;
    if let Some(h) = &inv.hardware {
        put_doc(
            &mut tx,
            device,
            InventorySection::Hardware,
            h,
            &hash(InventorySection::Hardware),
            now,
        )
        .await?;
        tx.exec(
            Q::new(
                "UPDATE devices SET cpu_model = ?, cpu_cores = ?, ram_total_mb = ?, disk_total_gb = ?, \
                 serial_number = COALESCE(?, serial_number), updated_at = ? WHERE id = ?",
            )
            .bind(h.cpu_model.as_str())
            .bind(i64::from(h.cpu_cores))
            .bind(i64::try_from(h.ram_total_mb).unwrap_or(i64::MAX))
            .bind(h.disk_total_gb)
            .bind(h.serial_number.clone())
            .bind(now)
            .bind(device),
        )
        .await?;
        stored.push(InventorySection::Hardware);
    }
    if let Some(o) = &inv.os {
        put_doc(
            &mut tx,
            device,
            InventorySection::Os,
            o,
            &hash(InventorySection::Os),
            now,
        )
        .await?;
        tx.exec(
            Q::new(
                "UPDATE devices SET hostname = ?, os_version = ?, os_build = ?, os_kernel = ?, architecture = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(o.hostname.as_str())
            .bind(o.version.as_str())
            .bind(o.build.as_str())
            .bind(o.kernel_version.as_str())
            .bind(o.architecture.as_str())
            .bind(now)
            .bind(device),
        )
        .await?;
        stored.push(InventorySection::Os);
    }
    if let Some(p) = &inv.processes {
        put_doc(
            &mut tx,
            device,
            InventorySection::Processes,
            p,
            &hash(InventorySection::Processes),
            now,
        )
        .await?;
        stored.push(InventorySection::Processes);
    }
    if let Some(u) = &inv.users {
        put_doc(
            &mut tx,
            device,
            InventorySection::Users,
            u,
            &hash(InventorySection::Users),
            now,
        )
        .await?;
        stored.push(InventorySection::Users);
    }
    if let Some(sw) = &inv.software {
        put_doc(
            &mut tx,
            device,
            InventorySection::Software,
            &Value::Null,
            &hash(InventorySection::Software),
            now,
        )
        .await?;
        tx.exec(Q::new("DELETE FROM device_software WHERE device_id = ?").bind(device))
            .await?;
        for chunk in sw.chunks(CHUNK) {
            let mut q = Q::new(
                "INSERT INTO device_software (device_id, name, name_lower, version, publisher, source, install_date, architecture) VALUES ",
            );
            for (i, s) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .push_bind(device)
                    .push(", ")
                    .push_bind(s.name.as_str());
                q.push(", ").push_bind(s.name.to_lowercase());
                q.push(", ").push_bind(s.version.as_str());
                q.push(", ").push_bind(s.publisher.clone());
                q.push(", ").push_bind(source_name(s.source));
                q.push(", ").push_bind(s.install_date);
                q.push(", ").push_bind(s.architecture.clone()).push(")");
            }
            tx.exec(q).await?;
        }
        stored.push(InventorySection::Software);
    }
    if let Some(disks) = &inv.disks {
        put_doc(
            &mut tx,
            device,
            InventorySection::Disks,
            &Value::Null,
            &hash(InventorySection::Disks),
            now,
        )
        .await?;
        tx.exec(Q::new("DELETE FROM device_disks WHERE device_id = ?").bind(device))
            .await?;
        for d in disks {
            tx.exec(
                Q::new(
                    "INSERT INTO device_disks (device_id, mount_point, filesystem, device, total_bytes, used_bytes, removable) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(device)
                .bind(d.mount_point.as_str())
                .bind(d.filesystem.as_str())
                .bind(d.device.as_str())
                .bind(i64::try_from(d.total_bytes).unwrap_or(i64::MAX))
                .bind(i64::try_from(d.used_bytes).unwrap_or(i64::MAX))
                .bind(d.removable),
            )
            .await?;
        }
        stored.push(InventorySection::Disks);
    }
    if let Some(nics) = &inv.network {
        put_doc(
            &mut tx,
            device,
            InventorySection::Network,
            &Value::Null,
            &hash(InventorySection::Network),
            now,
        )
        .await?;
        tx.exec(Q::new("DELETE FROM device_network_interfaces WHERE device_id = ?").bind(device))
            .await?;
        let mut primary_ip: Option<String> = None;
        for n in nics {
            if n.is_primary && primary_ip.is_none() {
                primary_ip = n.addresses.first().map(|a| a.address.clone());
            }
            tx.exec(
                Q::new(
                    "INSERT INTO device_network_interfaces (device_id, name, mac_address, addresses, is_primary, interface_type) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(device)
                .bind(n.name.as_str())
                .bind(n.mac_address.as_str())
                .bind(serde_json::to_value(&n.addresses).unwrap_or(Value::Null))
                .bind(n.is_primary)
                .bind(n.interface_type.as_str()),
            )
            .await?;
        }
        tx.exec(
            Q::new("UPDATE devices SET primary_ip = ?, updated_at = ? WHERE id = ?")
                .bind(primary_ip)
                .bind(now)
                .bind(device),
        )
        .await?;
        stored.push(InventorySection::Network);
    }
    tx.commit().await?;
    Ok(stored)
}

#[derive(sqlx::FromRow)]
struct Doc {
    section: String,
    data: Json<Value>,
    updated_at: DateTime<Utc>,
}

/// Hardware and OS of a device the caller fetched through its scope.
pub async fn hardware(db: &Db, device: DeviceId) -> Result<api::DeviceHardware, StoreError> {
    let docs: Vec<Doc> = db
        .all(
            Q::new(
                "SELECT section, data, updated_at FROM device_inventory WHERE device_id = ? AND section IN ('hardware', 'os')",
            )
            .bind(device),
        )
        .await?;
    let mut out = api::DeviceHardware {
        hardware: None,
        os: None,
        updated_at: None,
    };
    for d in docs {
        out.updated_at = out.updated_at.max(Some(d.updated_at));
        match d.section.as_str() {
            "hardware" => {
                out.hardware = serde_json::from_value::<HardwareInventory>(d.data.0).ok();
            }
            "os" => out.os = serde_json::from_value::<OsInventory>(d.data.0).ok(),
            _ => {}
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct SwRow {
    name: String,
    version: String,
    publisher: Option<String>,
    source: String,
    install_date: Option<NaiveDate>,
    architecture: Option<String>,
}

/// Installed software of a device in scope; `like` is a lower-cased LIKE pattern.
/// `FROM device_software WHERE …` for a device's software matching `like`.
fn software_where(q: &mut Q, device: DeviceId, like: Option<&str>) {
    q.push(" FROM device_software WHERE device_id = ")
        .push_bind(device);
    if let Some(p) = like {
        q.push(" AND (name_lower LIKE ")
            .push_bind(p.to_string())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(publisher, '')) LIKE ")
            .push_bind(p.to_string())
            .push(" ESCAPE '\\')");
    }
}

/// How many software items of a device match `like` (all of them without it).
pub async fn software_count(
    db: &Db,
    device: DeviceId,
    like: Option<&str>,
) -> Result<i64, StoreError> {
    let mut q = Q::new("SELECT COUNT(*) AS n");
    software_where(&mut q, device, like);
    Ok(db.one::<Count>(q).await?.n)
}

pub async fn software(
    db: &Db,
    device: DeviceId,
    like: Option<String>,
    limit: u32,
    offset: u64,
) -> Result<Vec<api::SoftwareItem>, StoreError> {
    let mut q = Q::new("SELECT name, version, publisher, source, install_date, architecture");
    software_where(&mut q, device, like.as_deref());
    q.push(" ORDER BY name_lower, version LIMIT ")
        .push_bind(i64::from(limit) + 1)
        .push(" OFFSET ")
        .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    let rows: Vec<SwRow> = db.all(q).await?;
    Ok(rows
        .into_iter()
        .map(|r| api::SoftwareItem {
            name: r.name,
            version: r.version,
            publisher: r.publisher,
            source: r.source,
            install_date: r.install_date,
            architecture: r.architecture,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct DiskRow {
    mount_point: String,
    filesystem: String,
    device: String,
    total_bytes: i64,
    used_bytes: i64,
    removable: bool,
}

pub async fn disks(db: &Db, device: DeviceId) -> Result<Vec<DiskInfo>, StoreError> {
    let rows: Vec<DiskRow> = db
        .all(
            Q::new(
                "SELECT mount_point, filesystem, device, total_bytes, used_bytes, removable FROM device_disks \
                 WHERE device_id = ? ORDER BY mount_point",
            )
            .bind(device),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| DiskInfo {
            mount_point: r.mount_point,
            filesystem: r.filesystem,
            device: r.device,
            total_bytes: u64::try_from(r.total_bytes).unwrap_or(0),
            used_bytes: u64::try_from(r.used_bytes).unwrap_or(0),
            removable: r.removable,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct NicRow {
    name: String,
    mac_address: String,
    addresses: Json<Value>,
    is_primary: bool,
    interface_type: String,
}

pub async fn network(db: &Db, device: DeviceId) -> Result<Vec<NetworkInterface>, StoreError> {
    let rows: Vec<NicRow> = db
        .all(
            Q::new(
                "SELECT name, mac_address, addresses, is_primary, interface_type FROM device_network_interfaces \
                 WHERE device_id = ? ORDER BY is_primary DESC, name",
            )
            .bind(device),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| NetworkInterface {
            name: r.name,
            mac_address: r.mac_address,
            addresses: serde_json::from_value(r.addresses.0).unwrap_or_default(),
            is_primary: r.is_primary,
            interface_type: r.interface_type,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct HashRow {
    section: String,
    hash: String,
}

/// The hash the server holds for each section of a device.
pub async fn hashes_for_agent(
    db: &Db,
    device: DeviceId,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows: Vec<HashRow> = db
        .all(Q::new("SELECT section, hash FROM device_inventory WHERE device_id = ?").bind(device))
        .await?;
    Ok(rows.into_iter().map(|r| (r.section, r.hash)).collect())
}
