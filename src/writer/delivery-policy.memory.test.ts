import { memoryDelivery } from "./memory-delivery.js";
import { describeDeliveryPolicy } from "./test-support/delivery-policy-suite.js";

describeDeliveryPolicy("memory engine", async () => ({ delivery: () => memoryDelivery, cleanup: async () => undefined }), {
  shared: false,
  durable: false,
});
