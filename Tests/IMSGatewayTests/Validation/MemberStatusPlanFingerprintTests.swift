import IMSClient
@testable import IMSGateway
import Testing

/// ``MemberStatusPlan/fingerprint``: SHA-256 of the normalised request, lower-case hex; the
/// expected values were computed with Python's `hashlib.sha256` over the same text.
struct MemberStatusPlanFingerprintTests {
    @Test func isTheSHA256OfStatusProjectVaultAndImages() {
        let plan = MemberStatusPlan(
            projectID: "fedcba9876543210fedcba9876543210", memberStatus: .accepted, vaultID: nil,
            images: ["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"], batches: [], warnings: [])
        #expect(plan.fingerprint == "854822e857f8e51a52671f75eb8005e6afe248b6082cc4893d50f51a2b6f1b25")
    }

    @Test func coversTheVaultAndTheMemberStatus() {
        let plan = MemberStatusPlan(
            projectID: "fedcba9876543210fedcba9876543210", memberStatus: .rejected,
            vaultID: "3b5816b5-f29c-4172-9d9a-76c719cb9999", images: ["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"],
            batches: [], warnings: [])
        #expect(plan.fingerprint == "afb98dd72ff6c77df3e858343d42df9f13a24df2a313f4aad58ea536d5fe8620")
    }
}
