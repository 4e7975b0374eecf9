# syntax=docker/dockerfile:1
# The production image: a build stage compiles the service (npm run build -> dist/), a runtime
# stage runs it with plain node, production dependencies only, as a non-root user.
#   docker build -t credit-deployment .            the runtime image (API by default)
#   docker build --target build -t credit-tools .  the build stage: Prisma CLI, migrations
# docker-compose.yml runs both (migrations, then API and worker).

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts need the sources (Prisma generate, codegen): run them below, once copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run db:generate && npm run build

FROM node:20-slim AS runtime
# The admin port (metrics, queue board) stays on the container's loopback unless ADMIN_HOST says
# otherwise (compose sets it, and publishes that port on the host's loopback only).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    HEALTH_URL=http://127.0.0.1:4000/health
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# 4000: the public API; 9464 / 9465: the admin ports (metrics, queue board) of the API and the
# worker, to keep off the public network.
EXPOSE 4000 9464 9465
# Liveness only (/health answers while the process runs; a database outage must not mark every
# container unhealthy): readiness is /ready. A worker sets HEALTH_URL to its admin port's /health.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["api"]
