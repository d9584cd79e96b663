// Python's keyword `strip_leading_zero=`, next to the shorter `strip:` these functions had
// first (which keeps working). `stripLeadingZero:` has no default, so calls without either
// label still reach the original functions.
extension Table {
    /// ``printLog2Hist(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` with
    /// Python's label. Python: `t.print_log2_hist(..., strip_leading_zero=True)`.
    public func printLog2Hist(valType: String = "value", sectionHeader: String = "Bucket ptr",
                              sectionPrintFn: ((DynamicValue) -> String)? = nil,
                              bucketFn: ((DynamicValue) -> DynamicValue)? = nil, stripLeadingZero: Bool,
                              bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws {
        try printLog2Hist(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                          bucketFn: bucketFn, strip: stripLeadingZero, bucketSortFn: bucketSortFn)
    }

    /// ``printLinearHist(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` with
    /// Python's label. Python: `t.print_linear_hist(..., strip_leading_zero=True)`.
    public func printLinearHist(valType: String = "value", sectionHeader: String = "Bucket ptr",
                                sectionPrintFn: ((DynamicValue) -> String)? = nil,
                                bucketFn: ((DynamicValue) -> DynamicValue)? = nil, stripLeadingZero: Bool,
                                bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws {
        try printLinearHist(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                            bucketFn: bucketFn, strip: stripLeadingZero, bucketSortFn: bucketSortFn)
    }

    /// ``log2HistText(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` with Python's label.
    public func log2HistText(valType: String = "value", sectionHeader: String = "Bucket ptr",
                             sectionPrintFn: ((DynamicValue) -> String)? = nil,
                             bucketFn: ((DynamicValue) -> DynamicValue)? = nil, stripLeadingZero: Bool,
                             bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws -> String {
        try log2HistText(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                         bucketFn: bucketFn, strip: stripLeadingZero, bucketSortFn: bucketSortFn)
    }

    /// ``linearHistText(valType:sectionHeader:sectionPrintFn:bucketFn:strip:bucketSortFn:)`` with Python's label.
    public func linearHistText(valType: String = "value", sectionHeader: String = "Bucket ptr",
                               sectionPrintFn: ((DynamicValue) -> String)? = nil,
                               bucketFn: ((DynamicValue) -> DynamicValue)? = nil, stripLeadingZero: Bool,
                               bucketSortFn: (([DynamicValue]) -> [DynamicValue])? = nil) throws -> String {
        try linearHistText(valType: valType, sectionHeader: sectionHeader, sectionPrintFn: sectionPrintFn,
                           bucketFn: bucketFn, strip: stripLeadingZero, bucketSortFn: bucketSortFn)
    }
}
