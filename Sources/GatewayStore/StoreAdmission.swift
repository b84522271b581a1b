/// ``Admission`` under a name that the module's own name (`GatewayStore`, also the protocol's)
/// does not shadow in modules that import it.
public typealias StoreAdmission = Admission
