FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json ./
COPY src/platform/config.ts ./src/platform/config.ts
RUN npm ci
COPY . .
STOPSIGNAL SIGTERM
# Production: NODE_ENV unset means production (no development secret, persisted operations only).
CMD ["node", "--import", "tsx", "src/main.ts", "api"]
