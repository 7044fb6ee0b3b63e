{{- /* What the operator touches: the rules of config/rbac, kept equal by tests/helm/test_chart_rbac.py. */ -}}
{{- define "soma-operator.rules" -}}
# The MemorySystems: watched, annotated by kopf (progress, finalizer), status written.
- apiGroups: ["memory.soma.dev"]
  resources: ["memorysystems"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["memory.soma.dev"]
  resources: ["memorysystems/status"]
  verbs: ["get", "patch"]
# Children carry blockOwnerDeletion: true, which OwnerReferencesPermissionEnforcement (on OpenShift, and in
# the control-plane tests) allows only to whoever may update the owner's finalizers.
- apiGroups: ["memory.soma.dev"]
  resources: ["memorysystems/finalizers"]
  verbs: ["update"]
# The children: read back, then server-side applied (apply creates, hence create).
- apiGroups: [""]
  resources: ["secrets", "configmaps", "serviceaccounts", "services"]
  verbs: ["get", "create", "patch"]
# The generated encryption key Secret is released from its owner on a delete with storagePolicy Retain (kept
# with the data it decrypts) and adopted again by a new MemorySystem of the same name:
# OwnerReferencesPermissionEnforcement lets only who may delete an object change its owner references, hence
# delete; the operator itself never deletes a Secret.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["delete"]
# The runtime reads its encryption keys and API token at start only: the operator watches Secrets to roll
# the pods when one it mounts is edited (it acts only on those its MemorySystems use).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "create", "patch"]
# With storagePolicy Delete the StatefulSets are deleted before their claims, which they would re-create.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch"]
# The API's autoscaler; deleted when the spec stops asking for it.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch", "delete"]
# Operators that may run beside ours, used only where API discovery finds them (discovery needs no rule):
# CloudNativePG's Cluster and KEDA's ScaledObject for the consumers (deleted when the spec stops asking
# for it). With storagePolicy Retain the Cluster is released from its owner on delete, to keep its data:
# OwnerReferencesPermissionEnforcement lets only who may delete an object change its owner references,
# hence delete; the operator itself never deletes a Cluster.
- apiGroups: ["postgresql.cnpg.io"]
  resources: ["clusters"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["get", "create", "patch", "delete"]
# Scheduled backups and maintenance: the CronJobs (deleted when the spec stops asking for them); their Jobs
# and pods are read for status.lastBackup and status.lastMaintenance (the backup pods' termination messages
# hold the backups' summaries). The restore Job of a system started from a backup is applied once, then read.
# The model fetch Job of another model is deleted (with its pods) before the new one; the reindex Jobs are
# applied once, then read.
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# The claims the StatefulSets create: grown on a storage increase, deleted with storagePolicy Delete; and the
# backup claim, which the operator creates.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "create", "patch", "delete"]
# kopf posts an Event for every change it logs.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
