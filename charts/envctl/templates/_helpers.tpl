{{/*
Names and labels shared by every template. Kubernetes names are DNS labels: at most
63 characters, so names are truncated and a trailing "-" left by the cut is removed.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "envctl.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base of object names: fullnameOverride, else "<release>-<chart>", or the release
name alone when it already contains the chart name (so "envctl" stays "envctl").
*/}}
{{- define "envctl.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label ("+" is not allowed in labels). */}}
{{- define "envctl.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object. Deliberately not envctl.dev/managed: that label marks test
environments, which the reaper deletes; the chart's own objects must never look like one.
*/}}
{{- define "envctl.labels" -}}
helm.sh/chart: {{ include "envctl.chart" . }}
{{ include "envctl.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: envctl
{{- end }}

{{/* The subset that identifies the release's objects (stable across upgrades). */}}
{{- define "envctl.selectorLabels" -}}
app.kubernetes.io/name: {{ include "envctl.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The reaper's name, used by its CronJob, ServiceAccount and RBAC. */}}
{{- define "envctl.reaperName" -}}
{{- printf "%s-reaper" (include "envctl.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Cluster-scoped objects (ClusterRole, ClusterRoleBinding) also carry the release
namespace, so that same-named releases in two namespaces do not fight over one object.
*/}}
{{- define "envctl.clusterName" -}}
{{- printf "%s-%s-reaper" (include "envctl.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* The reaper's ServiceAccount: the one created here, or serviceAccount.name. */}}
{{- define "envctl.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "envctl.reaperName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* envctl's image reference; the tag defaults to the chart's appVersion. */}}
{{- define "envctl.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
