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
CMD ["npm", "run", "start:api"]
