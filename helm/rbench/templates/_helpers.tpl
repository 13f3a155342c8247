{{/* _helpers.tpl: names, labels, image references and service addresses every template shares. */}}

{{/* F in the contract: the release name when it contains "rbench", else RELEASE-rbench. */}}
{{- define "rbench.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rbench.chart" -}}
{{- printf "%s-%s" .Chart.Name (.Chart.Version | replace "+" "_") -}}
{{- end -}}

{{/* Labels for an object of component C: include "rbench.labels" (list . "C") */}}
{{- define "rbench.labels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/component: {{ index . 1 }}
helm.sh/chart: {{ include "rbench.chart" $ }}
{{- end -}}

{{/* Selector labels: stable across upgrades (no version, no chart). */}}
{{- define "rbench.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The image tag: image.tag, else the chart's appVersion (never latest: the schema rejects it). */}}
{{- define "rbench.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* include "rbench.image" (list . "rbench-agent") */}}
{{- define "rbench.image" -}}
{{- $ := index . 0 -}}
{{- printf "%s/%s:%s" $.Values.image.registry (index . 1) (include "rbench.tag" $) -}}
{{- end -}}

{{- define "rbench.svcDomain" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Redis as the runner, agent and actions reach it: the Service FQDN (action pods run in
     OpenWhisk's namespace), or redis.host for an external Redis. */}}
{{- define "rbench.redisHost" -}}
{{- if .Values.redis.enabled -}}
{{- printf "%s-redis.%s" (include "rbench.fullname" .) (include "rbench.svcDomain" .) -}}
{{- else -}}
{{- required "redis.host is required when redis.enabled=false (the external Redis the agent and the actions use)" .Values.redis.host -}}
{{- end -}}
{{- end -}}

{{- define "rbench.redisPort" -}}
{{- if .Values.redis.enabled -}}6379{{- else -}}{{- .Values.redis.port -}}{{- end -}}
{{- end -}}

{{- define "rbench.agentHost" -}}
{{- printf "%s-agent.%s" (include "rbench.fullname" .) (include "rbench.svcDomain" .) -}}
{{- end -}}

{{/* The Secret holding Redis's password, empty when Redis has none (an external Redis
     without redis.password or redis.existingSecret). */}}
{{- define "rbench.redisSecret" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else if or .Values.redis.enabled .Values.redis.password -}}
{{- printf "%s-redis" (include "rbench.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "rbench.redisSecretKey" -}}
{{- if .Values.redis.existingSecret -}}{{- .Values.redis.existingSecretKey -}}{{- else -}}password{{- end -}}
{{- end -}}

{{/* The OpenWhisk API host, required wherever it is used. */}}
{{- define "rbench.apiHost" -}}
{{- required "openwhisk.apiHost is required: the OpenWhisk API host the runner invokes, e.g. https://owdev-nginx.openwhisk.svc.cluster.local (or set runner.enabled=false)" .Values.openwhisk.apiHost -}}
{{- end -}}

{{- define "rbench.authSecret" -}}
{{- required "openwhisk.authSecret is required: the name of a Secret in this namespace holding the OpenWhisk key (uuid:key) under openwhisk.authSecretKey, e.g. kubectl create secret generic rbench-openwhisk --from-file=auth=KEYFILE (or set runner.enabled=false)" .Values.openwhisk.authSecret -}}
{{- end -}}

{{/* Pod-level security context of the rbench images (user 65534 in the images). */}}
{{- define "rbench.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65534
runAsGroup: 65534
fsGroup: 65534
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context where the image allows a read-only root. */}}
{{- define "rbench.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The environment rbench reads (docs/runner.md): Redis, agent, OpenWhisk, all secrets as
     files. include "rbench.runnerEnv" (list . withOpenWhisk). With agent.placement=node there
     is one agent per node and no single /metrics to sample: no BATCHING_AGENT_METRICS_URL, so
     the documents' agent section says the endpoint is not configured (docs/kubernetes.md). */}}
{{- define "rbench.runnerEnv" -}}
{{- $ := index . 0 -}}
{{- $ow := index . 1 -}}
{{- if $ow }}
- name: OPENWHISK_APIHOST
  value: {{ include "rbench.apiHost" $ | quote }}
- name: OPENWHISK_AUTH_FILE
  value: /var/run/secrets/rbench/openwhisk/auth
{{- end }}
- name: REDIS_HOST
  value: {{ include "rbench.redisHost" $ | quote }}
- name: REDIS_PORT
  value: {{ include "rbench.redisPort" $ | quote }}
{{- if include "rbench.redisSecret" $ }}
- name: REDIS_PASSWORD_FILE
  value: /var/run/secrets/rbench/redis/password
{{- end }}
- name: BATCHING_AGENT_HOST
  value: {{ include "rbench.agentHost" $ | quote }}
- name: BATCHING_AGENT_PORT
  value: "6380"
{{- if ne $.Values.agent.placement "node" }}
- name: BATCHING_AGENT_METRICS_URL
  value: {{ printf "http://%s:9121/metrics" (include "rbench.agentHost" $) | quote }}
{{- end }}
{{- end -}}

{{/* Secret volumes for rbench: include "rbench.secretVolumes" (list . withOpenWhisk) */}}
{{- define "rbench.secretVolumes" -}}
{{- $ := index . 0 -}}
{{- if index . 1 }}
- name: openwhisk-auth
  secret:
    secretName: {{ include "rbench.authSecret" $ }}
    defaultMode: 0440
    items:
      - key: {{ $.Values.openwhisk.authSecretKey }}
        path: auth
{{- end }}
{{- if include "rbench.redisSecret" $ }}
- name: redis-password
  secret:
    secretName: {{ include "rbench.redisSecret" $ }}
    defaultMode: 0440
    items:
      - key: {{ include "rbench.redisSecretKey" $ }}
        path: password
{{- end }}
{{- end -}}

{{- define "rbench.secretMounts" -}}
{{- $ := index . 0 -}}
{{- if index . 1 }}
- name: openwhisk-auth
  mountPath: /var/run/secrets/rbench/openwhisk
  readOnly: true
{{- end }}
{{- if include "rbench.redisSecret" $ }}
- name: redis-password
  mountPath: /var/run/secrets/rbench/redis
  readOnly: true
{{- end }}
{{- end -}}

{{/* The agreed start instant of a sharded run (RBENCH_START_AT, docs/kubernetes.md "Scale-out
     runs"): runner.startAt as given (epoch seconds, or RFC 3339), else now +
     runner.startDelaySeconds in RFC 3339 UTC. A given instant that is not a date, is in the
     past, or is beyond the Job's deadline or a day ahead (the runner refuses those) fails the
     render, except for a suspended Job (its resume sets the instant). */}}
{{- define "rbench.startAt" -}}
{{- $v := .Values.runner.startAt -}}
{{- $out := "" -}}
{{- $epoch := 0.0 -}}
{{- if and (kindIs "string" $v) (eq $v "") -}}
{{- $out = dateInZone "2006-01-02T15:04:05Z07:00" (now | dateModify (printf "+%ds" (int64 .Values.runner.startDelaySeconds))) "UTC" -}}
{{- else -}}
{{- if kindIs "string" $v -}}
{{- $out = $v -}}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?$" $v -}}
{{- $epoch = float64 $v -}}
{{- else -}}
{{- $epoch = toDate "2006-01-02T15:04:05Z07:00" $v | unixEpoch | float64 -}}
{{- if le $epoch 0.0 -}}
{{- fail (printf "runner.startAt %q is not a date: give epoch seconds or RFC 3339 (e.g. 2026-12-04T18:00:00Z)" $v) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $epoch = float64 $v -}}
{{- $out = ternary (printf "%d" (int64 $v)) (printf "%.3f" $epoch) (eq $epoch (floor $epoch)) -}}
{{- end -}}
{{- if not .Values.runner.suspend -}}
{{- $now := now | unixEpoch | float64 -}}
{{- if lt $epoch $now -}}
{{- fail (printf "runner.startAt %s is in the past (now: %s): give a later instant, or leave it empty for now + runner.startDelaySeconds" $out (dateInZone "2006-01-02T15:04:05Z07:00" now "UTC")) -}}
{{- end -}}
{{- if gt $epoch (addf $now .Values.runner.activeDeadlineSeconds) -}}
{{- fail (printf "runner.startAt %s is more than runner.activeDeadlineSeconds (%d s) ahead: the Job's deadline would end the run before it starts" $out (int64 .Values.runner.activeDeadlineSeconds)) -}}
{{- end -}}
{{- if gt $epoch (addf $now 86400) -}}
{{- fail (printf "runner.startAt %s is more than a day ahead, which the runner refuses (a start given in milliseconds?): epoch seconds or RFC 3339" $out) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $out -}}
{{- end -}}

{{/* What runner.shards > 1 needs: an Indexed Job with backoffLimitPerIndex (Kubernetes 1.29+,
     where it is on by default), and a results claim every shard's node can mount. */}}
{{- define "rbench.checkShards" -}}
{{- if semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version -}}
{{- fail (printf "runner.shards=%d needs Kubernetes 1.29 or later (an Indexed Job with backoffLimitPerIndex); this cluster is %s: use runner.shards=1" (int .Values.runner.shards) .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if and .Values.results.pvc.enabled (not (has "ReadWriteMany" .Values.results.pvc.accessModes)) -}}
{{- fail (printf "runner.shards=%d with results.pvc.enabled needs results.pvc.accessModes [ReadWriteMany]: the shards run on several nodes and each mounts the claim (or keep the results in ConfigMaps: results.pvc.enabled=false)" (int .Values.runner.shards)) -}}
{{- end -}}
{{- end -}}


{{/* agent.placement=node: the helm test Pod runs where an agent is (the Service answers only
     from the client's own node), scheduled as the agent DaemonSet's pods are. */}}
{{- define "rbench.agentNodeScheduling" -}}
{{- if eq .Values.agent.placement "node" }}
{{- with .Values.agent.node.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.agent.node.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.agent.node.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}
