# Sourced by the scripts: points every AWS client at the local emulator. The credentials
# are the emulator's dummies; nothing here can reach a real AWS account.
port=${TENANCY_EMULATOR_PORT:-5005}
export TENANCY_AWS_ENDPOINT=${TENANCY_AWS_ENDPOINT:-http://127.0.0.1:$port}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
# Never read ~/.aws: a developer's real profile must not leak into a local run.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export TENANCY_DEV_JWT_SECRET=${TENANCY_DEV_JWT_SECRET:-tenancy-local-development-secret}
