{{/* The operator's name: Deployment, ServiceAccount, Service, Role, ClusterRole. */}}
{{- define "mca.name" -}}{{ .Values.operator.name }}{{- end -}}

{{- define "mca.labels" -}}
app.kubernetes.io/name: mca
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mca
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Stable across upgrades: a Deployment's selector cannot change. */}}
{{- define "mca.selectorLabels" -}}
app.kubernetes.io/name: mca
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "mca.operatorImage" -}}
{{ .Values.operator.image.repository }}:{{ .Values.operator.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "mca.sidecarImage" -}}
{{ .Values.sidecar.image.repository }}:{{ .Values.sidecar.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "mca.operatorAddress" -}}
{{- if .Values.sidecar.operatorAddress -}}
{{ .Values.sidecar.operatorAddress }}
{{- else -}}
{{ include "mca.name" . }}.{{ .Release.Namespace }}.svc:{{ .Values.operator.ports.grpc }}
{{- end -}}
{{- end -}}

{{/* The operator's configuration file (mca-operator --config). */}}
{{- define "mca.operatorConfig" -}}
injection:
  image: {{ include "mca.sidecarImage" . | quote }}
  imagePullPolicy: {{ .Values.sidecar.image.pullPolicy }}
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  operatorAddress: {{ include "mca.operatorAddress" . | quote }}
  adminPort: {{ .Values.sidecar.adminPort }}
  failureMode: {{ .Values.sidecar.failureMode }}
  tokenExpirationSeconds: {{ .Values.sidecar.tokenExpirationSeconds }}
  extraArgs: {{ toJson .Values.sidecar.extraArgs }}
  excludedNamespaces: {{ toJson .Values.sidecar.excludedNamespaces }}
webhook:
  configurationName: {{ .Values.webhook.configurationName }}
certificates:
  secretName: {{ .Values.certificates.secretName }}
  serviceNames: [{{ include "mca.name" . }}]
  extraDNSNames: {{ toJson .Values.certificates.extraDNSNames }}
  extraIPAddresses: {{ toJson .Values.certificates.extraIPAddresses }}
  caLifetime: {{ .Values.certificates.caLifetime }}
  leafLifetime: {{ .Values.certificates.leafLifetime }}
  renewFraction: {{ .Values.certificates.renewFraction }}
  caGracePeriod: {{ .Values.certificates.caGracePeriod }}
  bundlePropagation: {{ .Values.certificates.bundlePropagation }}
{{- end -}}
