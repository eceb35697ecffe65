#!/usr/bin/env bash
# Synthesize stack Cartwatch with real (local, Docker-free) bundling, then lint the template.
# Needs no AWS account or credentials: the stack is environment-agnostic and nothing is looked up.
set -euo pipefail
cd "$(dirname "$0")/.."

# Placeholders only stop the CLI from trying to discover an account; they do not end up in
# the (environment-agnostic) template.
export CDK_DEFAULT_ACCOUNT="${CDK_DEFAULT_ACCOUNT:-000000000000}"
export CDK_DEFAULT_REGION="${CDK_DEFAULT_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true          # no instance-metadata probes when offline
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

if [[ ! -x node_modules/.bin/cdk ]]; then
  npm ci --no-audit --no-fund --loglevel=error   # the CLI version pinned in package-lock.json
fi

started=$(date +%s)
npx --no-install cdk synth --quiet --no-notices --no-version-reporting
asset=$(.venv/bin/python -c 'import json; files = json.load(open("cdk.out/Cartwatch.assets.json"))["files"]
print(next(f["source"]["path"] for f in files.values() if f["source"].get("packaging") == "zip"))')
echo "synth: $(($(date +%s) - started)) s; Lambda asset cdk.out/${asset}: $(du -sm "cdk.out/${asset}" | cut -f1) MB unzipped"

# W3005: an explicit DependsOn that is also implied by a Ref/GetAtt; CDK emits these on
# purpose (e.g. a function on its role's default policy) and they are harmless.
.venv/bin/cfn-lint --ignore-checks W3005 -- cdk.out/Cartwatch.template.json
echo "cfn-lint: clean"
