# syntax=docker/dockerfile:1
# One image for both apps. The default command runs the gateway; the worker farm runs from the
# same image with `node apps/worker/dist/main.js` (docker-compose.yml does that).
#
# Node: the current LTS line. .ci/run reads this major and runs the whole test suite on it too.
ARG NODE_VERSION=26

# ---- build: the apps' dependencies and the build tools; compile the TypeScript ----
FROM node:${NODE_VERSION}-slim AS build
ENV TURBO_TELEMETRY_DISABLED=1
WORKDIR /app
# Manifests first, so the dependency layer is rebuilt only when they change: the root (TypeScript,
# Turborepo) and the two apps with the workspaces they depend on (a test checks that list).
COPY package.json package-lock.json ./
COPY libs/shared/package.json libs/shared/
COPY apps/gateway/package.json apps/gateway/
COPY apps/worker/package.json apps/worker/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --include-workspace-root \
      --workspace=@openai-proxy/gateway --workspace=@openai-proxy/worker
COPY . .
RUN npx turbo run build --filter=@openai-proxy/gateway --filter=@openai-proxy/worker

# ---- runtime: production dependencies and compiled JS only ----
FROM node:${NODE_VERSION}-slim AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/shared/package.json libs/shared/
COPY apps/gateway/package.json apps/gateway/
COPY apps/worker/package.json apps/worker/
# The two apps' production dependencies; workspace packages become links to libs/ and apps/.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --workspace=@openai-proxy/gateway --workspace=@openai-proxy/worker
COPY --from=build /app/libs/shared/dist libs/shared/dist
COPY --from=build /app/apps/gateway/dist apps/gateway/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
# Files stay owned by root and read-only to the app; it runs as the image's unprivileged `node` user
# and writes nothing but logs to stdout.
# Where /v1/files keeps its bytes by default (FILES_DIR=data/files): owned by the user that runs the
# apps, so a volume mounted there (docker-compose.yml) starts writable.
RUN mkdir -p data/files && chown -R node:node data
USER node
# 3000: gateway (PORT). 9464: worker farm /metrics and /health (WORKER_METRICS_PORT).
EXPOSE 3000 9464
# Slim images have no curl: Node's own fetch asks the gateway's /health. The worker's service in
# docker-compose.yml replaces this with a check of its metrics port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/gateway/dist/main.js"]
